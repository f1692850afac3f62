package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

// endedRun is a store with one run that succeeded and one still running.
func endedRun(t *testing.T) (s *Store, path string, ended, running int64) {
	t.Helper()
	s, path = openTemp(t)
	ended = createRun(t, s, "erp")
	appendAll(t, s, ended, 0, failoverEvents(engine.OutcomeSucceeded))
	running = createRun(t, s, "dns")
	appendAll(t, s, running, 0, failoverEvents(""))
	return s, path, ended, running
}

func TestFindingAfterEndIsChainedAndSigned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, ended, _ := endedRun(t)
	o := newOperators(t)
	s.SetSigner("alice", o.signer(t, "alice"), nil)
	f, err := s.AddFinding(ctx, ended, Finding{Operator: "alice", Text: "the DNS TTL was 1 day", Owner: "net team", Due: "2026-03-01", Step: "stop-primary"})
	if err != nil {
		t.Fatalf("AddFinding: %v", err)
	}
	if f.Seq != 15 || f.RunID != ended {
		t.Errorf("finding written as run %d #%d, want run %d #15", f.RunID, f.Seq, ended)
	}
	v, err := s.Verify(ctx, 0)
	if err != nil || !v.OK {
		t.Fatalf("Verify after a finding: %+v, %v", v, err)
	}
	rv, err := s.VerifyRun(ctx, ended)
	if err != nil || !rv.OK {
		t.Fatalf("VerifyRun after a finding: %+v, %v", rv, err)
	}
	evs, err := s.Events(ctx, ended)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := evs[len(evs)-1].(*Finding)
	if !ok || got.Text != "the DNS TTL was 1 day" || got.Owner != "net team" || got.Due != "2026-03-01" || got.Step != "stop-primary" {
		t.Fatalf("last event read back = %#v, want the finding", evs[len(evs)-1])
	}
	checks, err := s.CheckSignatures(ctx, ended, o.allowed)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range checks {
		if c.Kind == KindFinding {
			found = true
			if c.Status != SigVerified || c.Principal != "alice" {
				t.Errorf("finding's signature: %+v, want verified as alice", c)
			}
		}
	}
	if !found {
		t.Errorf("no signature check for the finding in %+v", checks)
	}
	// A second finding follows the first.
	if f2, err := s.AddFinding(ctx, ended, Finding{Operator: "alice", Text: "second"}); err != nil || f2.Seq != 16 {
		t.Fatalf("second finding: %+v, %v", f2, err)
	}
	if v, err := s.Verify(ctx, 0); err != nil || !v.OK {
		t.Fatalf("Verify after two findings: %+v, %v", v, err)
	}
}

func TestFindingRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, ended, running := endedRun(t)
	tests := []struct {
		name string
		run  int64
		f    Finding
		want error
		text string
	}{
		{"running run", running, Finding{Operator: "alice", Text: "x"}, ErrRunNotEnded, "write it as a note in its console"},
		{"no such run", 99, Finding{Operator: "alice", Text: "x"}, ErrNoRun, "run 99"},
		{"no text", ended, Finding{Operator: "alice", Text: "  "}, nil, "has no text"},
		{"bad due date", ended, Finding{Operator: "alice", Text: "x", Due: "01/03/2026"}, nil, "not YYYY-MM-DD"},
	}
	for _, tt := range tests {
		_, err := s.AddFinding(ctx, tt.run, tt.f)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s: AddFinding = %v, want %v containing %q", tt.name, err, tt.want, tt.text)
		}
	}
	if v, err := s.Verify(ctx, 0); err != nil || !v.OK || v.Events != 14+13 {
		t.Fatalf("refused findings left something: %+v, %v", v, err)
	}
}

// TestSealedRunTakesOnlyFindings: the events table itself refuses any
// other event for an ended run, a finding out of sequence, and a finding on
// a run still running, whoever writes (a plain SQLite client too).
func TestSealedRunTakesOnlyFindings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path, ended, running := endedRun(t)
	if err := s.Append(ctx, &engine.NoteAdded{Meta: engine.Meta{RunID: ended, Seq: 15, At: base.Add(time.Hour)}, Operator: "alice", Text: "late"}); err == nil || !strings.Contains(err.Error(), "an ended run is sealed") {
		t.Errorf("Append to an ended run = %v, want it refused as sealed", err)
	}
	db := plainDB(t, path)
	ins := func(run, seq int64, kind string) error {
		_, err := db.Exec(`INSERT INTO events (run_id, seq, at, kind, body, prev_hash, hash) VALUES (?, ?, ?, ?, '{}', '', '')`, run, seq, base.Format(timeFormat), kind)
		return err
	}
	for _, tt := range []struct {
		name      string
		run, seq  int64
		kind, err string
	}{
		{"a note after the end", ended, 15, "note", "an ended run is sealed"},
		{"a signature after the end", ended, -14, KindSignature, "an ended run is sealed"},
		{"a finding out of sequence", ended, 17, KindFinding, "an ended run is sealed"},
		{"a finding during the run", running, 14, KindFinding, "only added to a run that has ended"},
	} {
		if err := ins(tt.run, tt.seq, tt.kind); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: insert = %v, want %q", tt.name, err, tt.err)
		}
	}
	if err := ins(ended, 15, KindFinding); err != nil {
		t.Errorf("the table refuses a finding appended to an ended run: %v", err)
	}
}

// TestVerifyCatchesFindingTampering: a finding is evidence like any event.
func TestVerifyCatchesFindingTampering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		tamper  func(a attacker, id int64)
		brk     Break
		problem string
	}{
		{"its text edited", func(a attacker, id int64) {
			a.exec(`UPDATE events SET body = replace(body, 'TTL', 'ttl') WHERE kind = 'finding'`)
		}, BreakChanged, "was changed after it was written"},
		{"a note slipped in after it, hashes recomputed", func(a attacker, id int64) {
			a.insert(id+1, 1, 16, "note", `{"operator":"mallory","text":"fine"}`, a.row(id).hash, true)
		}, BreakInserted, "was added after run 1 ended"},
		{"made a finding before the end, hashes recomputed", func(a attacker, id int64) {
			a.exec(`UPDATE events SET kind = 'finding' WHERE run_id = 1 AND seq = 11`)
			a.rehashFrom(11)
		}, BreakInserted, "a finding written before run 1 ended"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, path, ended, _ := endedRun(t)
			f, err := s.AddFinding(ctx, ended, Finding{Operator: "alice", Text: "the DNS TTL was 1 day"})
			if err != nil {
				t.Fatal(err)
			}
			var id int64
			if err := s.db.QueryRow(`SELECT id FROM events WHERE run_id = ? AND seq = ?`, ended, f.Seq).Scan(&id); err != nil {
				t.Fatal(err)
			}
			s.Close()
			tt.tamper(attack(t, path), id)
			r, err := OpenReadOnly(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			v, err := r.Verify(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if v.OK || v.Break != tt.brk || !strings.Contains(v.Problem, tt.problem) {
				t.Errorf("Verify = ok %v, %s: %s; want %s containing %q", v.OK, v.Break, v.Problem, tt.brk, tt.problem)
			}
			rv, err := r.VerifyRun(ctx, ended)
			if err != nil {
				t.Fatal(err)
			}
			if rv.OK {
				t.Errorf("VerifyRun passes a tampered finding: %+v", rv)
			}
		})
	}
}
