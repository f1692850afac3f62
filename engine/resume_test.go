package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

// resumeHarness builds a second engine on the same lab and journal, as a new
// console would after the first one died.
func (h *harness) resumed(t *testing.T, auto bool) *harness {
	t.Helper()
	rep, err := engine.ProgressOf(h.journal.events)
	if err != nil {
		t.Fatal(err)
	}
	sites := map[string]engine.Hypervisor{}
	for _, s := range h.rb.Sites {
		hv, _ := h.lab.Hypervisor(s.URI)
		sites[s.Name] = hv
	}
	eng, err := engine.New(h.rb, sites, h.journal, engine.Options{RunID: 1, Operator: "erin", AutoApprove: auto, TimeScale: speed, Resume: rep, OutcomeBudget: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, rb: h.rb, lab: h.lab, journal: h.journal, eng: eng, seen: make(chan engine.Event, 4096)}
}

func TestResumeAtAGateDoesNotAskAnsweredGatesAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { h.eng.Run(ctx) }()
	for ev := range h.eng.Events() {
		if g, ok := ev.(*engine.GateOpened); ok {
			if g.Step == "stop-primary" {
				cancel() // the SSH link drops at the typed gate
				continue
			}
			go approveAll(h, g, "dan")
		}
	}
	r := h.resumed(t, false)
	var asked []string
	outcome, err := r.run(func(g *engine.GateOpened) {
		asked = append(asked, g.Step)
		approveAll(r, g, "erin")
	})
	if err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("resumed outcome %s err %v", outcome, err)
	}
	if len(asked) != 3 || asked[0] != "stop-primary" {
		t.Errorf("gates asked after resume: %v, want stop-primary, start-secondary, verify-users", asked)
	}
	for i, ev := range h.journal.events {
		if ev.EventMeta().Seq != int64(i+1) {
			t.Fatalf("seq gap at %d: %d", i, ev.EventMeta().Seq)
		}
	}
	res := h.journal.find("run.resumed")
	if len(res) != 1 || res[0].(*engine.RunResumed).Operator != "erin" {
		t.Fatalf("run.resumed events: %v", res)
	}
	// The RTO clock started before nothing; it starts at stop-primary, after resume.
	if n := len(h.journal.find("rto.started")); n != 1 {
		t.Errorf("%d rto.started", n)
	}
}

func TestResumeReconcilesAnInDoubtShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), true)
	// The console dies between the shutdown request and its outcome.
	h.journal.failOn = "action.outcome"
	_, err := h.run(nil)
	if err == nil {
		t.Fatal("the run went on without its outcome recorded")
	}
	h.journal.failOn = ""
	// While the console was gone, the guest finished shutting down.
	if err := engine.Wait(context.Background(), time.Millisecond, func(ctx context.Context) (bool, error) {
		s, err := h.lab.Site("primary").DomainState(ctx, "web-01")
		return s == engine.StateShutoff, err
	}); err != nil {
		t.Fatal(err)
	}
	rep, err := engine.ProgressOf(h.journal.events)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.InDoubt()) != 1 || rep.InDoubt()[0].Domain != "web-01" {
		t.Fatalf("in doubt: %+v", rep.InDoubt())
	}
	r := h.resumed(t, true)
	outcome, err := r.run(nil)
	if err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("resumed outcome %s err %v", outcome, err)
	}
	rec := h.journal.find("action.reconciled")
	if len(rec) != 1 || !rec[0].(*engine.ActionReconciled).Done {
		t.Fatalf("reconciliation %+v", rec)
	}
	n := 0
	for _, ev := range h.journal.find("action.intent") {
		if in := ev.(*engine.ActionIntent); in.Domain == "web-01" && in.Site == "primary" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("web-01 shutdown requested %d times; a done action must not be repeated", n)
	}
}

func TestResumeEndedRunIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), true)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatal(o, err)
	}
	r := h.resumed(t, true)
	_, err := r.run(nil)
	if !errors.Is(err, engine.ErrRunEnded) {
		t.Fatalf("err %v, want ErrRunEnded", err)
	}
}

func TestResumeAfterFailureAsksAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), false, "fail-start=secondary/db-01")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { h.eng.Run(ctx) }()
	for ev := range h.eng.Events() {
		switch e := ev.(type) {
		case *engine.GateOpened:
			go approveAll(h, e, "dan")
		case *engine.FailureOpened:
			cancel() // nobody answers: the console is closed
		}
	}
	r := h.resumed(t, false)
	var prompts int
	outcome, err := r.runWith(func(g *engine.GateOpened) { approveAll(r, g, "erin") }, func(f *engine.FailureOpened) {
		prompts++
		r.eng.Send(engine.Input{Step: f.Step, Kind: engine.InputAbort, Operator: "erin"})
	})
	if err != nil || outcome != engine.OutcomeFailed || prompts != 1 {
		t.Fatalf("outcome %s err %v prompts %d", outcome, err, prompts)
	}
}
