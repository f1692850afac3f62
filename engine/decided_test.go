package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
)

// TestAfterDecisionRunsBeforeActing: Options.AfterDecision is called once a
// gate decision is journaled and before anything else is, and the warning
// it returns is journaled for the step right after the decision.
func TestAfterDecisionRunsBeforeActing(t *testing.T) {
	rb := referenceRunbook(t)
	lab := sim.NewLab(7, speed)
	lab.Populate(rb, nil)
	sites := map[string]engine.Hypervisor{}
	for _, s := range rb.Sites {
		hv, err := lab.Hypervisor(s.URI)
		if err != nil {
			t.Fatal(err)
		}
		sites[s.Name] = hv
	}
	j := &memJournal{}
	var calls []string
	hook := func(_ context.Context, d *engine.GateDecided) string {
		kinds := j.kinds()
		if last := kinds[len(kinds)-1]; last != "gate.decided" {
			t.Errorf("AfterDecision for %s called after %s, not right after the decision", d.Step, last)
		}
		calls = append(calls, d.Step)
		if d.Step == "stop-primary" {
			return "the replica is behind"
		}
		return ""
	}
	eng, err := engine.New(rb, sites, j, engine.Options{RunID: 1, Operator: "alice", AutoApprove: true, TimeScale: speed, AfterDecision: hook})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range eng.Events() {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := eng.Run(ctx); err != nil || out != engine.OutcomeSucceeded {
		t.Fatalf("run: %s %v", out, err)
	}
	if decided := len(j.find("gate.decided")); decided == 0 || len(calls) != decided {
		t.Fatalf("%d decisions, AfterDecision called for %v", decided, calls)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, ev := range j.events {
		d, ok := ev.(*engine.GateDecided)
		if !ok || d.Step != "stop-primary" {
			continue
		}
		l, ok := j.events[i+1].(*engine.Logged)
		if !ok || l.Level != "warn" || l.Step != "stop-primary" || l.Message != "the replica is behind" {
			t.Errorf("after the decision at stop-primary: %#v", j.events[i+1])
		}
		return
	}
	t.Error("no decision at stop-primary")
}
