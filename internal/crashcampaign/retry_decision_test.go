package crashcampaign_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/runbooks"
)

// TestRetryChosenForACommandInDoubtSurvivesAKill: the console died while a
// command ran; on resume the operator chose to re-run it (failure.decided
// retry is in the trail) and the console died again before the re-run's
// intent was written. The next resume must carry out the recorded choice
// and re-run the command, not find the old intent still "in doubt": with
// --auto-approve that aborts the run, although the operator had decided.
// The crash campaign met it (hybrid-restore, step workspace, seed 5).
func TestRetryChosenForACommandInDoubtSurvivesAKill(t *testing.T) {
	t.Parallel()
	counter := filepath.Join(t.TempDir(), "counter")
	src := []byte(`version: 1
name: retry-after-doubt
sites:
  primary:
    uri: sim://primary
steps:
  - id: sync
    title: Final replication pass
    exec:
      command: [sh, -c, 'echo ran >> "$COUNTER"']
      env:
        COUNTER: ` + counter + `
`)
	rb, diags := runbooks.Parse("retry-after-doubt.yaml", src)
	if rb == nil {
		t.Fatalf("parse: %v", diags)
	}
	site := func() map[string]engine.Hypervisor {
		hv, err := sim.NewLab(1, 100).Hypervisor("sim://primary")
		if err != nil {
			t.Fatal(err)
		}
		return map[string]engine.Hypervisor{"primary": hv}
	}
	run := func(j *journal, opts engine.Options) (engine.Outcome, error) {
		eng, err := engine.New(rb, site(), j, opts)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range eng.Events() {
			}
		}()
		return eng.Run(context.Background())
	}
	// A whole run, then its trail cut right after the command's intent: the
	// console died while the command ran.
	first := &journal{}
	if out, err := run(first, engine.Options{RunID: 1, AutoApprove: true}); err != nil || out != engine.OutcomeSucceeded {
		t.Fatalf("first run: %s, %v", out, err)
	}
	var trail []engine.Event
	for _, ev := range first.events {
		trail = append(trail, ev)
		if in, ok := ev.(*engine.ActionIntent); ok && in.Verb == "exec" {
			break
		}
	}
	// The resumed console: the operator chose retry, then it died too.
	seq := trail[len(trail)-1].EventMeta().Seq
	now := time.Now()
	for _, ev := range []engine.Event{
		&engine.RunResumed{Operator: "alice", InDoubt: 1},
		&engine.FailureOpened{Step: "sync", Error: "its command was running when the console stopped", Choices: []engine.Choice{engine.ChoiceRetry, engine.ChoiceMarkDone, engine.ChoiceSkip, engine.ChoiceAbort}},
		&engine.FailureDecided{Step: "sync", Choice: engine.ChoiceRetry, Operator: "alice"},
	} {
		seq++
		m := ev.EventMeta()
		m.RunID, m.Seq, m.At = 1, seq, now
		trail = append(trail, ev)
	}
	if err := os.Remove(counter); err != nil {
		t.Fatal(err)
	}
	prog, err := engine.ProgressOf(trail)
	if err != nil {
		t.Fatal(err)
	}
	second := &journal{}
	out, err := run(second, engine.Options{RunID: 1, AutoApprove: true, Resume: prog})
	if err != nil || out != engine.OutcomeSucceeded {
		var why string
		if n := len(second.events); n > 0 {
			if end, ok := second.events[n-1].(*engine.RunEnded); ok {
				why = end.Reason
			}
		}
		t.Fatalf("resume after a recorded retry: %s, %v (%s); want the command re-run and the run succeeded", out, err, why)
	}
	b, _ := os.ReadFile(counter)
	if n := strings.Count(string(b), "ran"); n != 1 {
		t.Fatalf("the command ran %d times on resume; want once (the retry the operator chose)", n)
	}
}
