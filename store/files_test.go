//go:build unix

package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenTightensModes: a trail left 0644, with its -wal and -shm files
// 0644 too (SQLite gives them the database's mode), is private after Open.
func TestOpenTightensModes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTemp(t)
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents("")[:3])
	s.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	// Another client keeps the file open in WAL mode: -wal and -shm exist,
	// made by SQLite with the database's 0644.
	db := plainDB(t, path)
	mustExec(t, db, "PRAGMA journal_mode = WAL", "SELECT count(*) FROM events")
	for _, side := range []string{"-wal", "-shm"} {
		if info, err := os.Stat(path + side); err != nil || info.Mode().Perm() != 0o644 {
			t.Fatalf("set-up: %s%s is %v, %v; want 0644", path, side, info, err)
		}
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v after Open, want 0600", p, info.Mode().Perm())
		}
	}
}

// TestOpenRefusesAnotherUsersTrail: an empty 0666 file that another user
// put where the trail goes (a shared, sticky directory) is not taken as a
// new trail, nor is a trail of theirs, nor a -wal file they planted.
func TestOpenRefusesAnotherUsersTrail(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to give a file to nobody")
	}
	const nobody = 65534
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, path string) string // returns the file given away
	}{
		{"empty 0666 file", func(t *testing.T, path string) string {
			if err := os.WriteFile(path, nil, 0o666); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, 0o666)
			return path
		}},
		{"a trail of theirs", func(t *testing.T, path string) string {
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			createRun(t, s, "erp")
			s.Close()
			return path
		}},
		{"a planted -wal", func(t *testing.T, path string) string {
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			if err := os.WriteFile(path+"-wal", nil, 0o666); err != nil {
				t.Fatal(err)
			}
			return path + "-wal"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o1777); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "audit.db")
			given := tt.setup(t, path)
			if err := os.Chown(given, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			before := dirSnapshot(t, dir)
			s, err := Open(ctx, path)
			if err == nil {
				s.Close()
				t.Fatalf("Open of a trail whose %s belongs to nobody succeeded", filepath.Base(given))
			}
			if !errors.Is(err, ErrNotOwner) {
				t.Errorf("Open = %v, want ErrNotOwner", err)
			}
			for _, want := range []string{given + " belongs to", "uid 65534", "not to root", "--db"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
			if after := dirSnapshot(t, dir); after != before {
				t.Errorf("the refused file was changed:\n%s\n---\n%s", before, after)
			}
			var st syscall.Stat_t
			if syscall.Stat(given, &st) != nil || st.Uid != nobody {
				t.Errorf("%s changed owner", given)
			}
		})
	}
}
