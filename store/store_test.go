package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rto := 4 * time.Minute
	tests := []struct {
		name        string
		outcome     engine.Outcome // "" = still running
		wantReason  string
		wantRTO     *time.Duration
		wantEndedAt bool
	}{
		{name: "succeeded", outcome: engine.OutcomeSucceeded, wantRTO: &rto, wantEndedAt: true},
		{name: "failed", outcome: engine.OutcomeFailed, wantReason: "step stop-primary failed: domain not found", wantEndedAt: true},
		{name: "aborted", outcome: engine.OutcomeAborted, wantReason: "step stop-primary failed: domain not found", wantEndedAt: true},
		{name: "running", outcome: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, _ := openTemp(t)
			// An earlier run, so that ids, run ids and seqs differ.
			first := createRun(t, s, "dns")
			appendAll(t, s, first, 0, failoverEvents(engine.OutcomeSucceeded))
			id := createRun(t, s, "erp")
			want := failoverEvents(tt.outcome)
			appendAll(t, s, id, 0, want)

			got, err := s.Events(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("Events: %d events, want %d", len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("event %d:\n got %#v\nwant %#v", i+1, got[i], want[i])
				}
			}

			r, err := s.Run(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			wantOutcome := tt.outcome
			if wantOutcome == "" {
				wantOutcome = engine.OutcomeRunning
			}
			if r.Outcome != wantOutcome || r.Reason != tt.wantReason || r.Runbook != "erp" || r.Operator != "alice" ||
				!r.StartedAt.Equal(base) || r.RTOTarget != 15*time.Minute {
				t.Errorf("Run = %+v", r)
			}
			if !reflect.DeepEqual(r.RTOAchieved, tt.wantRTO) {
				t.Errorf("RTOAchieved = %v, want %v", r.RTOAchieved, tt.wantRTO)
			}
			v, err := s.Verify(ctx, id)
			if err != nil || !v.OK {
				t.Fatalf("Verify = %+v, %v", v, err)
			}
			if v.RunCount != int64(len(want)) {
				t.Errorf("Verify counted %d events of run %d, want %d", v.RunCount, id, len(want))
			}
			if tt.wantEndedAt {
				last := want[len(want)-1].EventMeta()
				if r.EndedAt == nil || !r.EndedAt.Equal(last.At) {
					t.Errorf("EndedAt = %v, want %v", r.EndedAt, last.At)
				}
				// The run row records the head of the chain at its end, which
				// is the head Verify reports since nothing came after.
				if r.EndEventID != v.HeadID || r.EndHash != v.Head {
					t.Errorf("run end (%d, %s), chain head (%d, %s)", r.EndEventID, r.EndHash, v.HeadID, v.Head)
				}
				if err := s.CheckAnchor(ctx, r.EndEventID, r.EndHash); err != nil {
					t.Errorf("CheckAnchor: %v", err)
				}
			} else if r.EndedAt != nil || r.EndEventID != 0 || r.EndHash != "" {
				t.Errorf("running run has an end: %+v", r)
			}

			runs, err := s.Runs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 2 || runs[0].ID != id || runs[1].ID != first {
				t.Errorf("Runs: want newest first [%d %d], got %+v", id, first, runs)
			}
		})
	}
}

func TestRunUnknown(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	_, err := s.Run(context.Background(), 99)
	if !errors.Is(err, ErrNoRun) {
		t.Fatalf("Run(99) = %v, want ErrNoRun", err)
	}
}

func TestAppendRefusesSequenceGaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		seq  int64
		want string
	}{
		{"repeat", 2, "run 1 already has event #2: another console is writing this run"},
		{"gap", 4, "event #4 does not follow run 1's last event #2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := openTemp(t)
			id := createRun(t, s, "erp")
			appendAll(t, s, id, 0, failoverEvents("")[:2])
			ev := &engine.Logged{Level: "info", Message: "x"}
			ev.RunID, ev.Seq, ev.At = id, tt.seq, base
			err := s.Append(context.Background(), ev)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Append seq %d = %v, want %q", tt.seq, err, tt.want)
			}
			if v, _ := s.Verify(context.Background(), 0); !v.OK || v.Events != 2 {
				t.Fatalf("after refused append: %+v", v)
			}
		})
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	path := filepath.Join(root, "state", "repli", "audit.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents("")[:1])

	want := map[string]os.FileMode{
		filepath.Join(root, "state"):          os.ModeDir | 0o700,
		filepath.Join(root, "state", "repli"): os.ModeDir | 0o700,
		path:                                  0o600,
		path + "-wal":                         0o600, // SQLite gives it the database's mode
		path + "-shm":                         0o600,
	}
	for p, mode := range want {
		info, err := os.Stat(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if info.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", p, info.Mode(), mode)
		}
	}
}

// TestPragmasInForce checks what each pooled connection really runs with:
// pragmas set with Exec on one connection would be missing on the others.
func TestPragmasInForce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTemp(t)
	const conns = 3
	for i := range conns {
		c, err := s.db.Conn(ctx) // held open, so that each is a new connection
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, p := range []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"synchronous", "2"}, // FULL
			{"busy_timeout", "5000"},
			{"foreign_keys", "1"},
			{"application_id", fmt.Sprint(applicationID)},
			{"user_version", fmt.Sprint(schemaVersion(t))},
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != p.want {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, p.pragma, got, p.want)
			}
		}
	}
	if st := s.db.Stats(); st.OpenConnections < conns {
		t.Fatalf("only %d connections were open", st.OpenConnections)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := plainDB(t, path)
	newer := schemaVersion(t) + 1
	mustExec(t, db, fmt.Sprintf("PRAGMA user_version = %d", newer))
	db.Close()
	dir := filepath.Dir(path)
	before := dirSnapshot(t, dir)
	for _, tt := range []struct {
		name string
		open func(context.Context, string) (*Store, error)
	}{{"Open", Open}, {"OpenReadOnly", OpenReadOnly}} {
		s, err := tt.open(ctx, path)
		if err == nil {
			s.Close()
			t.Fatalf("%s opened a database of schema %d", tt.name, newer)
		}
		if !errors.Is(err, ErrNewerSchema) {
			t.Errorf("%s: %v, want ErrNewerSchema", tt.name, err)
		}
		for _, want := range []string{path, "written by a newer repli", fmt.Sprintf("schema %d; this repli knows up to %d", newer, newer-1), "upgrade repli"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not say %q", tt.name, err, want)
			}
		}
		// A reader of a live (0600) WAL database leaves an empty -wal and
		// the -shm behind; the database itself must be as it was, and Open
		// must leave nothing at all.
		after := dirSnapshot(t, dir)
		if tt.name == "Open" && after != before || !strings.HasPrefix(after, before) {
			t.Errorf("%s changed the refused database:\nbefore %s\nafter  %s", tt.name, before, after)
		}
	}
}

func TestRefusesForeignDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup []string // run on a new file with a plain client
		raw   string   // or: the file's bytes
		want  string
	}{
		{name: "other application id", setup: []string{"PRAGMA application_id = 1234", "CREATE TABLE t (x)"}, want: "application id 0x4d2"},
		{name: "tables of its own", setup: []string{"CREATE TABLE accounts (id INTEGER PRIMARY KEY)", "INSERT INTO accounts VALUES (1)"}, want: "it has tables of its own"},
		{name: "only a user version", setup: []string{"PRAGMA user_version = 7"}, want: "schema 7 without repli's application id"},
		{name: "not SQLite", raw: "name: erp\nsteps: []\n" + strings.Repeat("x", 200), want: "is not a SQLite file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "other.db")
			if tt.raw != "" {
				if err := os.WriteFile(path, []byte(tt.raw), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				db := plainDB(t, path)
				mustExec(t, db, tt.setup...)
				db.Close()
			}
			before := dirSnapshot(t, filepath.Dir(path))
			for name, open := range map[string]func(context.Context, string) (*Store, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
				s, err := open(ctx, path)
				if err == nil {
					s.Close()
					t.Fatalf("%s accepted it", name)
				}
				if !errors.Is(err, ErrNotRepli) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
					t.Errorf("%s: %v; want ErrNotRepli saying %q and the path", name, err, tt.want)
				}
				if name == "Open" && !strings.Contains(err.Error(), "refusing to touch it") {
					t.Errorf("Open: %q does not say it left the file alone", err)
				}
			}
			if after := dirSnapshot(t, filepath.Dir(path)); after != before {
				t.Errorf("foreign file was changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestOpenReadOnlyRefusesEmptyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenReadOnly(context.Background(), path)
	if !errors.Is(err, ErrNotRepli) || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("OpenReadOnly(empty) = %v", err)
	}
}

// reviewCopy builds a finished trail and returns a copy of it in dir, the
// file and dir then given the modes asked for.
func reviewCopy(t *testing.T, dir string, fileMode, dirMode os.FileMode) (path string, runID int64, events int) {
	t.Helper()
	s, src := openTemp(t)
	runID = createRun(t, s, "erp")
	evs := failoverEvents(engine.OutcomeSucceeded)
	appendAll(t, s, runID, 0, evs)
	s.Close() // checkpoints: the copy needs no -wal
	path = filepath.Join(dir, "audit.db")
	copyFile(t, src, path)
	if err := os.Chmod(path, fileMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	return path, runID, len(evs)
}

// checkReview opens path for review, reads and verifies it, checks that no
// write gets through, and that the directory is as it was.
func checkReview(t *testing.T, path string, runID int64, events int) {
	t.Helper()
	ctx := context.Background()
	before := dirSnapshot(t, filepath.Dir(path))
	s, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	runs, err := s.Runs(ctx)
	if err != nil || len(runs) != 1 || runs[0].Outcome != engine.OutcomeSucceeded {
		t.Errorf("Runs = %+v, %v", runs, err)
	}
	evs, err := s.Events(ctx, runID)
	if err != nil || len(evs) != events {
		t.Errorf("Events: %d, %v; want %d", len(evs), err, events)
	}
	if v, err := s.Verify(ctx, runID); err != nil || !v.OK {
		t.Errorf("Verify = %+v, %v", v, err)
	}

	ev := &engine.NoteAdded{Operator: "mallory", Text: "added in review"}
	ev.RunID, ev.Seq, ev.At = runID, int64(events)+1, base
	if err := s.Append(ctx, ev); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Append on a review copy = %v, want ErrReadOnly", err)
	}
	if _, err := s.CreateRun(ctx, RunInfo{Runbook: "x", Mode: "test", Operator: "mallory"}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("CreateRun on a review copy = %v, want ErrReadOnly", err)
	}
	if _, err := s.AcquireLease(ctx, runID, Holder{Operator: "mallory"}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("AcquireLease on a review copy = %v, want ErrReadOnly", err)
	}
	// Below the store's own guard, SQLite itself refuses.
	_, err = s.db.ExecContext(ctx, `INSERT INTO runs (runbook, mode, operator, started_at) VALUES ('x', 'test', 'mallory', 'now')`)
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("raw INSERT through a review handle = %v, want a read-only refusal", err)
	}
	if !errors.Is(s.explain(err), ErrReadOnly) {
		t.Errorf("explain(%v) is not ErrReadOnly", err)
	}
	s.Close()
	if after := dirSnapshot(t, filepath.Dir(path)); after != before {
		t.Errorf("review changed the directory:\nbefore %s\nafter  %s", before, after)
	}
}

// TestOpenReadOnlyCopy reviews a copy as handed to an auditor: file 0444 in
// a 0555 directory. As root the bits are not enforced, so what refuses
// writes is SQLite's mode=ro (and immutable, since the file has no write
// bits); TestOpenReadOnlyMount covers a truly read-only medium.
func TestOpenReadOnlyCopy(t *testing.T) {
	t.Parallel()
	path, runID, n := reviewCopy(t, t.TempDir(), 0o444, 0o555)
	checkReview(t, path, runID, n)
}

func TestMigratesSchema1(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	// A database as the first repli wrote it: schema 1, one ended run, one
	// still running, chained with the same hash.
	db := plainDB(t, path)
	mustExec(t, db, "PRAGMA journal_mode = WAL", ms[0], fmt.Sprintf("PRAGMA user_version = 1; PRAGMA application_id = %d", applicationID),
		`INSERT INTO runs (runbook, mode, operator, started_at, ended_at, outcome) VALUES ('erp', 'test', 'alice', 'x', '`+base.Format(timeFormat)+`', 'succeeded')`,
		`INSERT INTO runs (runbook, mode, operator, started_at) VALUES ('dns', 'test', 'alice', 'x')`)
	prev := GenesisHash
	var endID int64
	var endHash string
	for i, ev := range []struct {
		run  int64
		seq  int64
		kind string
		body string
	}{{1, 1, "run.started", `{"runbook":"erp","mode":"test","operator":"alice"}`}, {2, 1, "run.started", `{"runbook":"dns","mode":"test","operator":"alice"}`},
		{1, 2, "run.ended", `{"outcome":"succeeded"}`}, {2, 2, "log", "{}"}} {
		id := int64(i + 1)
		at := base.Format(timeFormat)
		h := eventHash(prev, id, ev.run, ev.seq, at, ev.kind, "", ev.body)
		mustExec(t, db, fmt.Sprintf(`INSERT INTO events VALUES (%d, %d, %d, '%s', '%s', '', '%s', '%s', '%s')`, id, ev.run, ev.seq, at, ev.kind, ev.body, prev, h))
		if ev.kind == "run.ended" {
			endID, endHash = id, h
		}
		prev = h
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var version int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(ms) {
		t.Fatalf("user_version = %d, %v; want %d", version, err, len(ms))
	}
	r, err := s.Run(ctx, 1)
	if err != nil || r.EndEventID != endID || r.EndHash != endHash {
		t.Errorf("ended run after migration: %+v, %v; want end (%d, %s)", r, err, endID, endHash)
	}
	if !r.StartedAt.Equal(base) {
		t.Errorf("started_at after migration = %v, want the run.started event's %v", r.StartedAt, base)
	}
	if r, _ := s.Run(ctx, 2); r.EndEventID != 0 || r.EndHash != "" {
		t.Errorf("running run got an end: %+v", r)
	}
	if v, err := s.Verify(ctx, 0); err != nil || !v.OK || v.Events != 4 {
		t.Errorf("Verify after migration = %+v, %v", v, err)
	}
	// Opening again is a no-op.
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

func TestConcurrentFirstOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	const n = 6
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			s, err := Open(ctx, path)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var tables int
	if err := s.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table'`).Scan(&tables); err != nil || tables != 4 {
		t.Errorf("%d tables, %v; want runs, events, leases, approvals", tables, err)
	}
}

// schemaVersion is the schema this repli writes: the number of migrations.
func schemaVersion(t *testing.T) int {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}
