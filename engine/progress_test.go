package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

// The engine's own projection and one rebuilt from the journal are the same
// answer: the TUI, resume and the report read the second.
func TestProgressFromTheJournalIsTheEngines(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), true)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("outcome %s err %v", o, err)
	}
	live := h.eng.Progress()
	replayed, err := engine.ProgressOf(h.journal.events)
	if err != nil {
		t.Fatal(err)
	}
	if live.Events != replayed.Events || live.LastSeq != replayed.LastSeq {
		t.Fatalf("engine saw %d events up to seq %d, journal gives %d up to %d", live.Events, live.LastSeq, replayed.Events, replayed.LastSeq)
	}
	for _, st := range h.rb.Steps {
		a, b := live.Steps[st.ID], replayed.Steps[st.ID]
		if a == nil || b == nil {
			t.Fatalf("step %s missing: engine %v journal %v", st.ID, a, b)
		}
		if a.State != b.State || !a.Began.Equal(b.Began) || !a.Ended.Equal(b.Ended) || a.Passed != b.Passed {
			t.Errorf("step %s: engine %+v, journal %+v", st.ID, a, b)
		}
		if a.State != engine.StepSucceeded {
			t.Errorf("step %s is %s after a successful run", st.ID, a.State)
		}
		if d := b.Duration(time.Now()); d < 0 || d > time.Minute {
			t.Errorf("step %s lasted %s", st.ID, d)
		}
	}
	if replayed.RTOStart.IsZero() || replayed.RTOAchieved <= 0 || replayed.Ended == nil {
		t.Errorf("RTO start %v achieved %v ended %v", replayed.RTOStart, replayed.RTOAchieved, replayed.Ended)
	}
	if len(replayed.InDoubt()) != 0 {
		t.Errorf("in doubt after a clean run: %v", replayed.InDoubt())
	}
}

// A step skipped by the mode never started: its duration is zero, not the
// time since year 1.
func TestSkippedStepHasNoAbsurdDuration(t *testing.T) {
	t.Parallel()
	p := engine.NewProgress()
	at := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	p.Apply(&engine.RunStarted{Meta: engine.Meta{Seq: 1, At: at}})
	p.Apply(&engine.StepChanged{Meta: engine.Meta{Seq: 2, At: at.Add(time.Second)}, Step: "a", State: engine.StepSkipped, Reason: "not run in disaster mode"})
	s := p.Steps["a"]
	if d := s.Duration(at.Add(time.Hour)); d != 0 {
		t.Errorf("skipped step lasted %s", d)
	}
	if !s.Passed {
		t.Error("a skipped step is passed")
	}
}

// Notes race the end of the run: none panics, each is recorded or refused
// with ErrRunOver, and nothing is recorded after run.ended.
func TestNoteRacesTheEndOfTheRun(t *testing.T) {
	t.Parallel()
	for round := 0; round < 20; round++ {
		h := newHarness(t, referenceRunbook(t), true)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Bounded: the harness keeps every event it reads.
				for n := 0; n < 200; n++ {
					err := h.eng.Note(context.Background(), "bob", "still here")
					if errors.Is(err, engine.ErrRunOver) {
						return
					}
					if err != nil {
						t.Errorf("note: %v", err)
						return
					}
					select {
					case <-stop:
						return
					default:
					}
				}
			}()
		}
		if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
			t.Fatalf("outcome %s err %v", o, err)
		}
		close(stop)
		wg.Wait()
		kinds := h.journal.kinds()
		if kinds[len(kinds)-1] != "run.ended" {
			t.Fatalf("round %d: the last event is %s, not run.ended", round, kinds[len(kinds)-1])
		}
	}
}

// A command whose outcome was recorded is never run again on resume, even
// when the console died before the step was marked done.
func TestRecordedCommandOutcomeIsFinalOnResume(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		exit    string
		outcome engine.Outcome
	}{{"success", "0", engine.OutcomeSucceeded}, {"failure", "3", engine.OutcomeFailed}} {
		t.Run(tc.name, func(t *testing.T) {
			count := filepath.Join(t.TempDir(), "runs")
			src := `version: 1
name: once
vars:
  count: ` + count + `
sites:
  p: {uri: sim://p}
steps:
  - id: restore
    on_failure: abort
    exec:
      command: [sh, -c, 'echo ran >> "$1"; exit ` + tc.exit + `', sh, "${count}"]
`
			h := newHarness(t, mustParse(t, "once.yaml", src), true)
			if _, err := h.run(nil); err != nil {
				t.Fatal(err)
			}
			// Cut the trail right after the command's outcome: the console
			// died before it marked the step.
			cut := -1
			for i, ev := range h.journal.events {
				if ev.Kind() == "action.outcome" {
					cut = i + 1
				}
			}
			if cut < 0 {
				t.Fatal("no action.outcome recorded")
			}
			h.journal.events = h.journal.events[:cut]
			r := h.resumed(t, true)
			o, err := r.run(nil)
			if err != nil || o != tc.outcome {
				t.Fatalf("resumed: outcome %s err %v, want %s", o, err, tc.outcome)
			}
			b, err := os.ReadFile(count)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(b), "ran"); n != 1 {
				t.Errorf("the command ran %d times, want once", n)
			}
		})
	}
}

// A trail that is busy when an outcome is due: the outcome is tried again
// and recorded; the action is not reported failed because of the trail.
// When the trail stays unwritable, the run stops resumable, never failed.
func TestOutcomeWaitsForABusyTrail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), true)
	h.journal.failOn, h.journal.failTimes = "action.outcome", 3
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("outcome %s err %v with a trail busy three times", o, err)
	}
	p, _ := engine.ProgressOf(h.journal.events)
	if n := len(p.InDoubt()); n != 0 {
		t.Errorf("%d actions without outcome", n)
	}
	for _, a := range p.Actions {
		if a.Result != engine.ActionOK {
			t.Errorf("action %d %s %s: %s", a.Intent.Action, a.Intent.Verb, a.Intent.Domain, a.Result)
		}
	}

	h = newHarness(t, referenceRunbook(t), true)
	h.journal.failOn = "action.outcome" // never free again
	o, err := h.run(nil)
	if err == nil || o != engine.OutcomeRunning {
		t.Fatalf("outcome %s err %v with a trail that never takes the outcome; want stopped, resumable", o, err)
	}
	if len(h.journal.find("run.ended")) != 0 {
		t.Error("the run was closed although the trail could not take an outcome")
	}
}
