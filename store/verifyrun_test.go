package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestVerifyRunChecksOneRunAndItsLinks: VerifyRun finds what Verify finds
// in the run it checks, and in the links between that run and its
// neighbours in the chain; a change to another run's events only is not its
// business.
func TestVerifyRunChecksOneRunAndItsLinks(t *testing.T) {
	t.Parallel()
	tr := newTrail(t)
	tests := []struct {
		name    string
		tamper  func(a attacker)
		run     int64
		ok      bool
		brk     Break
		badID   int64
		problem string
	}{
		{name: "untouched run 1", tamper: func(attacker) {}, run: 1, ok: true},
		{name: "untouched run 2", tamper: func(attacker) {}, run: 2, ok: true},
		{
			name: "one byte of a body",
			tamper: func(a attacker) {
				a.exec(`UPDATE events SET body = substr(body, 1, 10) || char(unicode(substr(body, 11, 1)) + 1) || substr(body, 12) WHERE id = 5`)
			},
			run: 1, brk: BreakChanged, badID: 5, problem: "event 5 (run 1 #5, gate.decided) was changed",
		},
		{
			name: "another run's body changed",
			tamper: func(a attacker) {
				a.exec(`UPDATE events SET body = substr(body, 1, 10) || char(unicode(substr(body, 11, 1)) + 1) || substr(body, 12) WHERE id = 20`)
			},
			run: 1, ok: true,
		},
		{
			name:   "event deleted",
			tamper: func(a attacker) { a.exec(`DELETE FROM events WHERE id = 9`) },
			run:    1, brk: BreakMissing, badID: 10, problem: "run 1 events #9 to #9 are missing",
		},
		{
			name: "last event replaced, its own hash recomputed",
			tamper: func(a attacker) {
				e := a.row(14)
				e.body = strings.Replace(e.body, `"succeeded"`, `"failed"`, 1)
				a.exec(fmt.Sprintf(`UPDATE events SET body = '%s', hash = '%s' WHERE id = 14`, e.body, e.hashAs(14)))
			},
			run: 1, brk: BreakChanged, badID: 14, problem: "event 14 (run 1 #14, run.ended) is not the event event 15 (run 2 #1, run.started) was written after",
		},
		{
			name: "the event before a run's first replaced",
			tamper: func(a attacker) {
				e := a.row(14)
				e.body = strings.Replace(e.body, `"succeeded"`, `"failed"`, 1)
				a.exec(fmt.Sprintf(`UPDATE events SET body = '%s', hash = '%s' WHERE id = 14`, e.body, e.hashAs(14)))
			},
			run: 2, brk: BreakChanged, badID: 14, problem: "event 14 (run 1 #14, run.ended) was changed or replaced",
		},
		{
			name:   "runs table edited",
			tamper: func(a attacker) { a.exec(`UPDATE runs SET outcome = 'failed' WHERE id = 2`) },
			run:    2, brk: BreakIndex, badID: 28, problem: "run 2's outcome is \"failed\" in the runs table",
		},
		{
			name:   "run's end moved",
			tamper: func(a attacker) { a.exec(`UPDATE runs SET end_event_id = 13 WHERE id = 1`) },
			run:    1, brk: BreakTruncated, badID: 13, problem: "but that event is not its run.ended",
		},
		{
			name: "event added after the run's end",
			tamper: func(a attacker) {
				a.insert(29, 2, 15, "note", `{"operator":"mallory","text":"all fine"}`, a.row(28).hash, true)
			},
			run: 2, brk: BreakInserted, badID: 29, problem: "event 29 (run 2 #15, note) was added after run 2 ended at event 28",
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
			v, err := s.VerifyRun(context.Background(), tt.run)
			if err != nil {
				t.Fatal(err)
			}
			if v.OK != tt.ok || v.Break != tt.brk || v.BadID != tt.badID || !strings.Contains(v.Problem, tt.problem) {
				t.Errorf("VerifyRun(%d) = ok %v, %s at %d: %q; want ok %v, %s at %d: %q", tt.run, v.OK, v.Break, v.BadID, v.Problem, tt.ok, tt.brk, tt.badID, tt.problem)
			}
			if tt.ok && (v.Events != 14 || v.LastID != 14*tt.run || v.HeadID != 28 || v.LastHash == "" || v.Head == "") {
				t.Errorf("VerifyRun(%d) = %+v: want 14 events, last %d, head 28", tt.run, v, 14*tt.run)
			}
		})
	}
}

// BenchmarkVerifyRun measures VerifyRun of one run of 100 events in a
// trail of 1,000 runs (100,000 events): it reads that run, not the trail
// (compare BenchmarkVerify).
func BenchmarkVerifyRun(b *testing.B) {
	ctx := context.Background()
	s, _ := openTemp(b)
	const runs, perRun = 1000, 100
	genTrail(b, s, runs, perRun)
	for b.Loop() {
		v, err := s.VerifyRun(ctx, runs/2)
		if err != nil || !v.OK || v.Events != perRun {
			b.Fatalf("VerifyRun = %+v, %v", v, err)
		}
	}
}
