package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// damageIndex overwrites bytes of the index of UNIQUE (run_id, seq) in a closed trail,
// as a bad disk or a stray write would: the events table, and with it the
// hash chain, is untouched: the chain is read in rowid order, through no
// index, so it verifies.
func damageIndex(t *testing.T, path string) {
	t.Helper()
	db := plainDB(t, path)
	var page, size int64
	if err := db.QueryRow(`SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_events_1'`).Scan(&page); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)")
	db.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	at, n := (page-1)*size, size
	junk := make([]byte, n)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	if _, err := f.WriteAt(junk, at); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// damagedTrail is a closed trail of 400 events with its index damaged.
func damagedTrail(t *testing.T) string {
	t.Helper()
	s, path := openTemp(t)
	genTrail(t, s, 20, 20)
	s.Close()
	damageIndex(t, path)
	return path
}

func TestVerifyNamesDamagedFile(t *testing.T) {
	t.Parallel()
	path := damagedTrail(t)
	s, err := OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.Verify(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || v.Break != BreakDamaged {
		t.Fatalf("Verify of a file with a damaged index = %+v, want BreakDamaged", v)
	}
	for _, want := range []string{path + " damaged", "malformed", "copy it aside", "cp -p " + path + "*", "new database"} {
		if !strings.Contains(v.Problem, want) {
			t.Errorf("%q does not say %q", v.Problem, want)
		}
	}
}

// TestOpenRefusesDamagedFile: a run, resume or approval on a damaged trail
// is refused before anything is written, with what to do, and the error is
// told apart from a busy one (the engine retries ErrLocked, not this).
func TestOpenRefusesDamagedFile(t *testing.T) {
	t.Parallel()
	path := damagedTrail(t)
	before := dirSnapshot(t, filepath.Dir(path))
	_, err := Open(context.Background(), path)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "copy it aside") {
		t.Fatalf("Open of a damaged file = %v, want ErrDamaged with what to do", err)
	}
	for _, other := range []error{ErrLocked, ErrDiskFull, ErrNotRepli} {
		if errors.Is(err, other) {
			t.Errorf("a damaged file reads as %v: %v", other, err)
		}
	}
	if after := dirSnapshot(t, filepath.Dir(path)); after != before {
		t.Errorf("Open changed the damaged file:\n%s\n---\n%s", before, after)
	}
}
