package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repli-dr/repli/engine"
)

// trail is a finished two-run trail to tamper with: run 1 is events 1–14,
// run 2 is events 15–28; both ended (run.ended is event 14 and 28).
type trail struct {
	path   string
	runs   []Run
	events int64
}

func newTrail(t *testing.T) trail {
	t.Helper()
	ctx := context.Background()
	s, path := openTemp(t)
	for _, rb := range []string{"erp", "dns"} {
		id := createRun(t, s, rb)
		appendAll(t, s, id, 0, failoverEvents(engine.OutcomeSucceeded))
	}
	v, err := s.Verify(ctx, 0)
	if err != nil || !v.OK || v.Events != 28 {
		t.Fatalf("fresh trail: %+v, %v", v, err)
	}
	runs, err := s.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	return trail{path: path, runs: runs, events: v.Events}
}

// copyTo gives a test its own copy of the trail.
func (tr trail) copyTo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "audit.db")
	copyFile(t, tr.path, p)
	return p
}

// attacker is someone with write access to the file and a plain SQLite
// client: they drop the triggers, and rebuild the events table without its
// UNIQUE (run_id, seq), which would get in the way of moving events about.
type attacker struct {
	t  *testing.T
	db *sql.DB
}

func attack(t *testing.T, path string) attacker {
	t.Helper()
	db := plainDB(t, path)
	mustExec(t, db,
		"DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete",
		"DROP TRIGGER runs_sealed", "DROP TRIGGER runs_no_delete",
		`CREATE TABLE ev2 (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL,
			step TEXT NOT NULL DEFAULT '', body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)`,
		"INSERT INTO ev2 SELECT * FROM events", "DROP TABLE events", "ALTER TABLE ev2 RENAME TO events")
	return attacker{t, db}
}

func (a attacker) exec(stmts ...string) { a.t.Helper(); mustExec(a.t, a.db, stmts...) }

func (a attacker) row(id int64) storedEvent {
	a.t.Helper()
	e, err := scanEvent(a.db.QueryRow(`SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
	if err != nil {
		a.t.Fatalf("read event %d: %v", id, err)
	}
	return e
}

// shiftUp makes room for an event at id by moving every later one up.
func (a attacker) shiftUp(id int64) {
	a.t.Helper()
	a.exec(fmt.Sprintf("UPDATE events SET id = id + 1000000 WHERE id >= %d", id),
		"UPDATE events SET id = id - 1000000 + 1 WHERE id > 1000000")
}

// insert writes a forged event at id, after prev, with a hash computed as
// repli would (rehash) or made up.
func (a attacker) insert(id int64, run, seq int64, kind, body, prev string, rehash bool) {
	a.t.Helper()
	at := base.Format(timeFormat)
	h := strings.Repeat("f", 64)
	if rehash {
		h = eventHash(prev, id, run, seq, at, kind, "", body)
	}
	if _, err := a.db.Exec(`INSERT INTO events VALUES (?, ?, ?, ?, ?, '', ?, ?, ?)`, id, run, seq, at, kind, body, prev, h); err != nil {
		a.t.Fatal(err)
	}
}

// rehashFrom recomputes every hash from id on, as someone who knows the
// algorithm would after an edit.
func (a attacker) rehashFrom(id int64) {
	a.t.Helper()
	prev := a.row(id - 1).hash
	for {
		var e storedEvent
		e, err := scanEvent(a.db.QueryRow(`SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
		if err == sql.ErrNoRows {
			return
		}
		if err != nil {
			a.t.Fatal(err)
		}
		e.prevHash = prev
		h := e.hashAs(id)
		a.exec(fmt.Sprintf("UPDATE events SET prev_hash = '%s', hash = '%s' WHERE id = %d", prev, h, id))
		prev = h
		id++
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	t.Parallel()
	tr := newTrail(t)
	tests := []struct {
		name    string
		tamper  func(a attacker)
		ok      bool
		brk     Break
		badID   int64
		problem string // substring of Verification.Problem
	}{
		{name: "untouched", tamper: func(attacker) {}, ok: true},
		{
			name: "one byte of a body",
			tamper: func(a attacker) {
				a.exec(`UPDATE events SET body = substr(body, 1, 10) || char(unicode(substr(body, 11, 1)) + 1) || substr(body, 12) WHERE id = 5`)
			},
			brk: BreakChanged, badID: 5, problem: "event 5 (run 1 #5, gate.decided) was changed after it was written",
		},
		{
			name:   "timestamp",
			tamper: func(a attacker) { a.exec(`UPDATE events SET at = '2025-11-22T03:00:00Z' WHERE id = 8`) },
			brk:    BreakChanged, badID: 8, problem: "event 8 (run 1 #8, action.intent) was changed",
		},
		{
			name:   "the hash column",
			tamper: func(a attacker) { a.exec(`UPDATE events SET hash = '` + strings.Repeat("0", 64) + `' WHERE id = 3`) },
			brk:    BreakChanged, badID: 3, problem: "event 3 (run 1 #3, gate.opened) was changed",
		},
		{
			name:   "event moved to another run",
			tamper: func(a attacker) { a.exec(`UPDATE events SET run_id = 1 WHERE id = 20`) },
			brk:    BreakChanged, badID: 20, problem: "event 20 (run 1 #6, rto.started) was changed",
		},
		{
			name: "event replaced, its own hash recomputed",
			tamper: func(a attacker) {
				e := a.row(5)
				e.body = strings.Replace(e.body, `"approved":true`, `"approved":false`, 1)
				a.exec(fmt.Sprintf(`UPDATE events SET body = '%s', hash = '%s' WHERE id = 5`, e.body, e.hashAs(5)))
			},
			brk: BreakChanged, badID: 5, problem: "event 5 (run 1 #5, gate.decided) was replaced: event 6 (run 1 #6, rto.started) was written after a different event",
		},
		{
			name:   "event deleted",
			tamper: func(a attacker) { a.exec(`DELETE FROM events WHERE id = 9`) },
			brk:    BreakMissing, badID: 9, problem: "event 9 is missing: the chain goes from event 8 to event 10",
		},
		{
			name:   "three events deleted",
			tamper: func(a attacker) { a.exec(`DELETE FROM events WHERE id BETWEEN 16 AND 18`) },
			brk:    BreakMissing, badID: 16, problem: "events 16 to 18 are missing",
		},
		{
			name:   "first event deleted",
			tamper: func(a attacker) { a.exec(`DELETE FROM events WHERE id = 1`) },
			brk:    BreakMissing, badID: 1, problem: "event 1 is missing",
		},
		{
			name: "event deleted and the rest renumbered",
			tamper: func(a attacker) {
				a.exec(`DELETE FROM events WHERE id = 9`, `UPDATE events SET id = id + 1000000 WHERE id > 9`, `UPDATE events SET id = id - 1000000 - 1 WHERE id > 1000000`)
			},
			brk: BreakMissing, badID: 9, problem: "event 9 is missing: the events after it were renumbered",
		},
		{
			name: "two events swapped",
			tamper: func(a attacker) {
				a.exec(`CREATE TEMP TABLE x AS SELECT * FROM events WHERE id IN (4, 10)`,
					`UPDATE events SET (run_id, seq, at, kind, step, body, prev_hash, hash) =
						(SELECT run_id, seq, at, kind, step, body, prev_hash, hash FROM x WHERE x.id = 14 - events.id) WHERE id IN (4, 10)`)
			},
			brk: BreakReordered, badID: 4, problem: "event 4 (run 1 #10, log) is out of place: it was written as event 10",
		},
		{
			name: "two neighbours swapped",
			tamper: func(a attacker) {
				a.exec(`CREATE TEMP TABLE x AS SELECT * FROM events WHERE id IN (6, 7)`,
					`UPDATE events SET (run_id, seq, at, kind, step, body, prev_hash, hash) =
						(SELECT run_id, seq, at, kind, step, body, prev_hash, hash FROM x WHERE x.id = 13 - events.id) WHERE id IN (6, 7)`)
			},
			brk: BreakReordered, badID: 6, problem: "is out of place: it was written as event 7",
		},
		{
			name: "bodies of two events swapped",
			tamper: func(a attacker) {
				a.exec(`CREATE TEMP TABLE x AS SELECT * FROM events WHERE id IN (2, 12)`,
					`UPDATE events SET body = (SELECT body FROM x WHERE x.id = 14 - events.id) WHERE id IN (2, 12)`)
			},
			brk: BreakChanged, badID: 2, problem: "event 2 (run 1 #2, step.changed) was changed",
		},
		{
			name: "forged event inserted, made-up hash",
			tamper: func(a attacker) {
				prev := a.row(8).hash
				a.shiftUp(9)
				a.insert(9, 1, 9, "note", `{"operator":"alice","text":"approved by CISO"}`, prev, false)
			},
			brk: BreakInserted, badID: 9, problem: "event 9 (run 1 #9, note) was inserted: it was never written by repli",
		},
		{
			name: "forged event inserted, hash recomputed",
			tamper: func(a attacker) {
				prev := a.row(8).hash
				a.shiftUp(9)
				a.insert(9, 1, 9, "note", `{"operator":"alice","text":"approved by CISO"}`, prev, true)
			},
			brk: BreakInserted, badID: 9, problem: "event 9 was inserted: it was never written by repli (event 10 (run 1 #9, action.outcome) was written as event 9)",
		},
		{
			name: "forged event appended to an ended run",
			tamper: func(a attacker) {
				a.insert(29, 1, 15, "note", `{"operator":"alice","text":"all fine"}`, a.row(28).hash, true)
			},
			brk: BreakInserted, badID: 29, problem: "event 29 (run 1 #15, note) was added after run 1 ended at event 14",
		},
		{
			name: "body changed and every later hash recomputed",
			tamper: func(a attacker) {
				a.exec(`UPDATE events SET body = replace(body, '"approved":true', '"approved":false') WHERE id = 5`)
				a.rehashFrom(5)
			},
			brk: BreakChanged, badID: 14, problem: "run 1 was recorded as ending at event 14 with hash",
		},
		{
			name:   "tail cut",
			tamper: func(a attacker) { a.exec(`DELETE FROM events WHERE id > 25`) },
			brk:    BreakTruncated, badID: 26, problem: "the trail was cut: it ends at event 25, but run 2 was recorded as ending at event 28",
		},
		{
			name: "closing events of a run cut, its end record cleared",
			tamper: func(a attacker) {
				a.exec(`DELETE FROM events WHERE id > 26`, `UPDATE runs SET end_event_id = NULL, end_hash = NULL WHERE id = 2`)
			},
			brk: BreakTruncated, badID: 0, problem: "run 2 is recorded as succeeded, but its last event is #12 (step.changed), not run.ended",
		},
		{
			name:   "ended run marked running again",
			tamper: func(a attacker) { a.exec(`UPDATE runs SET ended_at = NULL, outcome = 'running' WHERE id = 1`) },
			brk:    BreakIndex, badID: 14, problem: "run 1 ended at event 14, but the runs table says it is still running",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tr.copyTo(t)
			a := attack(t, path)
			tt.tamper(a)
			a.db.Close()

			s, err := OpenReadOnly(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			v, err := s.Verify(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s", v.Break, v.Problem)
			if v.OK != tt.ok || v.Break != tt.brk || v.BadID != tt.badID || !strings.Contains(v.Problem, tt.problem) {
				t.Errorf("Verify = ok %v, break %q, bad event %d, problem %q\nwant ok %v, break %q, bad event %d, problem containing %q",
					v.OK, v.Break, v.BadID, v.Problem, tt.ok, tt.brk, tt.badID, tt.problem)
			}
		})
	}
}

// TestVerifyLimitCutWithIndex documents what Verify cannot see: the tail of
// the trail cut together with the run rows that recorded it. Only the head
// hash written down outside the file (the ticket) shows it.
func TestVerifyLimitCutWithIndex(t *testing.T) {
	t.Parallel()
	tr := newTrail(t)
	path := tr.copyTo(t)
	run2 := tr.runs[0] // newest first
	a := attack(t, path)
	a.exec(`DELETE FROM events WHERE id > 20`,
		`UPDATE runs SET ended_at = NULL, outcome = 'running', reason = '', rto_achieved_ns = NULL, end_event_id = NULL, end_hash = NULL WHERE id = 2`)
	a.db.Close()

	s, err := OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.Verify(context.Background(), 0)
	if err != nil || !v.OK {
		t.Fatalf("Verify = %+v, %v: if this is now caught, update the documented limit", v, err)
	}
	err = s.CheckAnchor(context.Background(), run2.EndEventID, run2.EndHash)
	if err == nil || !strings.Contains(err.Error(), "the trail has no event 28: it was cut") {
		t.Fatalf("CheckAnchor(ticket of run 2) = %v", err)
	}
}

func TestCheckAnchorRewritten(t *testing.T) {
	t.Parallel()
	tr := newTrail(t)
	path := tr.copyTo(t)
	run1 := tr.runs[1]
	a := attack(t, path)
	a.exec(`UPDATE events SET body = replace(body, 'vm-db', 'vm-web') WHERE id = 8`)
	a.rehashFrom(8)
	a.exec(`UPDATE runs SET end_hash = (SELECT hash FROM events WHERE id = end_event_id)`)
	a.db.Close()

	s, err := OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.Verify(context.Background(), 0); !v.OK {
		t.Fatalf("a full rewrite is not visible inside the file, yet Verify says %+v", v)
	}
	err = s.CheckAnchor(context.Background(), run1.EndEventID, run1.EndHash)
	if err == nil || !strings.Contains(err.Error(), "event 14 (run 1 #14, run.ended) has hash") || !strings.Contains(err.Error(), "the trail was rewritten") {
		t.Fatalf("CheckAnchor = %v", err)
	}
}

// TestTriggersRefuseEdits: without dropping the triggers, a plain client
// can neither edit nor delete events, nor touch an ended run.
func TestTriggersRefuseEdits(t *testing.T) {
	t.Parallel()
	tr := newTrail(t)
	tests := []struct{ stmt, want string }{
		{`UPDATE events SET body = '{}' WHERE id = 3`, "audit events are append-only"},
		{`UPDATE events SET id = id + 100 WHERE id = 28`, "audit events are append-only"},
		{`DELETE FROM events WHERE id = 28`, "audit events are append-only"},
		{`DELETE FROM events`, "audit events are append-only"},
		{`UPDATE runs SET outcome = 'failed' WHERE id = 1`, "an ended run is sealed"},
		{`UPDATE runs SET end_hash = NULL WHERE id = 2`, "an ended run is sealed"},
		{`DELETE FROM runs WHERE id = 1`, "runs are never deleted"},
	}
	path := tr.copyTo(t)
	db := plainDB(t, path)
	for _, tt := range tests {
		_, err := db.Exec(tt.stmt)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.stmt, err, tt.want)
		}
	}
	db.Close()
	s, err := OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Verify(context.Background(), 0); err != nil || !v.OK || v.Events != tr.events {
		t.Fatalf("after refused edits: %+v, %v", v, err)
	}
}

// TestVerifyWhileAppending checks Verify against a trail being written:
// runs and events are read as one snapshot, so a run ending between the two
// reads is not mistaken for tampering, and the writer is not held off.
func TestVerifyWhileAppending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTemp(t)
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan error, 1)
	go func() {
		for range 20 {
			id, err := s.CreateRun(ctx, RunInfo{Runbook: "erp", Mode: "test", Operator: "alice", StartedAt: base})
			if err != nil {
				done <- err
				return
			}
			for i, ev := range failoverEvents(engine.OutcomeSucceeded) {
				m := ev.EventMeta()
				m.RunID, m.Seq, m.At = id, int64(i+1), base
				if err := s.Append(ctx, ev); err != nil {
					done <- err
					return
				}
			}
		}
		done <- nil
	}()
	for checks := 0; ; checks++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			if checks == 0 {
				t.Log("the writer finished before the first check")
			}
			return
		default:
		}
		for _, st := range []*Store{s, r} {
			v, err := st.Verify(ctx, 0)
			if err != nil || !v.OK {
				t.Fatalf("Verify while appending: %+v, %v", v, err)
			}
		}
	}
}
