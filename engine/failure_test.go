package engine_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/repli-dr/repli/engine"
)

func TestRefusedGateCanBeReopened(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), false)
	var refused atomic.Bool
	outcome, err := h.runWith(func(g *engine.GateOpened) {
		if g.Step == "start-secondary" && !refused.Swap(true) {
			// A stray key at a confirm gate refuses; it must not end the run.
			h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputRefuse, Text: "enter", Operator: "carol"})
			return
		}
		approveAll(h, g, "carol")
	}, func(f *engine.FailureOpened) {
		h.eng.Send(engine.Input{Step: f.Step, Kind: engine.InputRetry, Operator: "carol"})
	})
	if err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s err %v", outcome, err)
	}
	var choices []string
	for _, ev := range h.journal.find("failure.decided") {
		d := ev.(*engine.FailureDecided)
		choices = append(choices, d.Step+":"+string(d.Choice)+":"+d.Operator)
	}
	if strings.Join(choices, " ") != "start-secondary:retry:carol" {
		t.Errorf("failure decisions %v", choices)
	}
	if n := len(h.journal.find("gate.opened")); n != 5 {
		t.Errorf("%d gates opened, want 5 (start-secondary twice)", n)
	}
}

func TestSkipAfterFailureIsNotSuccess(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), false, "fail-start=secondary/web-01")
	outcome, err := h.runWith(func(g *engine.GateOpened) { approveAll(h, g, "dave") }, func(f *engine.FailureOpened) {
		h.eng.Send(engine.Input{Step: f.Step, Kind: engine.InputSkip, Operator: "dave"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if outcome != engine.OutcomeFailed {
		t.Fatalf("outcome %s: a run with a skipped failed step must not succeed", outcome)
	}
	st := h.stepStates()
	if st["start-secondary"] != engine.StepSkipped {
		t.Errorf("start-secondary %s, want skipped", st["start-secondary"])
	}
	// The run went on after the skip: the next check ran (and failed, web-01 is off).
	if st["secondary-running"] == "" {
		t.Error("the run did not continue after the skip")
	}
	end := h.ended()
	if !strings.Contains(end.Reason, "start-secondary (skip after failure)") {
		t.Errorf("reason %q does not list the skipped step", end.Reason)
	}
}

func TestRetriesRecoverFromTransientFailure(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: flaky
sites:
  secondary: {uri: sim://secondary}
steps:
  - id: start
    retries: 2
    retry_delay: 10s
    start: {site: secondary, domains: [db-01]}
`
	h := newHarness(t, mustParse(t, "flaky.yaml", src), true, "flaky-start=secondary/db-01")
	outcome, err := h.run(nil)
	if err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s err %v", outcome, err)
	}
	var oks []bool
	for _, ev := range h.journal.find("action.outcome") {
		oks = append(oks, ev.(*engine.ActionOutcome).OK)
	}
	if len(oks) != 2 || oks[0] || !oks[1] {
		t.Errorf("start outcomes %v, want a failure then a success", oks)
	}
	d := h.journal.find("failure.decided")
	if len(d) != 1 || d[0].(*engine.FailureDecided).Operator != engine.PolicyOperator {
		t.Errorf("retry decisions %v", d)
	}
}

func TestOnFailureContinue(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: cont
sites:
  secondary: {uri: sim://secondary}
steps:
  - id: optional
    on_failure: continue
    check: {site: secondary, domains: [web-01], state: running}
  - id: start
    start: {site: secondary, domains: [web-01]}
`
	h := newHarness(t, mustParse(t, "cont.yaml", src), false)
	h.lab.AddDomain("secondary", "web-01", engine.StateShutoff) // the check will fail
	outcome, _ := h.run(nil)
	st := h.stepStates()
	if st["optional"] != engine.StepFailed || st["start"] != engine.StepSucceeded {
		t.Fatalf("states %v", st)
	}
	if outcome != engine.OutcomeSucceeded {
		t.Errorf("outcome %s, want succeeded: the runbook tolerates this step failing", outcome)
	}
	end := h.ended()
	if !strings.Contains(end.Reason, "tolerated") || !strings.Contains(end.Reason, "optional") {
		t.Errorf("reason %q does not name the tolerated failure", end.Reason)
	}
}

func TestAutoApproveAbortsOnFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), true, "fail-start=secondary/db-01")
	outcome, _ := h.run(nil)
	if outcome != engine.OutcomeFailed {
		t.Fatalf("outcome %s", outcome)
	}
	if n := len(h.journal.find("failure.opened")); n != 0 {
		t.Errorf("--auto-approve asked %d failure question(s); it must abort", n)
	}
}

func TestTwoApproversMustDiffer(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: four-eyes
sites:
  primary: {uri: sim://primary}
steps:
  - id: stop
    gate: typed
    approvers: 2
    shutdown: {site: primary, domains: [db-01]}
`
	h := newHarness(t, mustParse(t, "four-eyes.yaml", src), false)
	outcome, err := h.run(func(g *engine.GateOpened) {
		if g.Approvers != 2 {
			t.Errorf("gate asks %d approvers", g.Approvers)
		}
		h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Text: "primary", Operator: "alice"})
		h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Text: "primary", Operator: "alice"}) // twice: refused
		h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Text: "primray", Operator: "bob"})   // mistyped: refused
		h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Text: "primary", Operator: "bob"})
	})
	if err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s err %v", outcome, err)
	}
	var who []string
	for _, ev := range h.journal.find("gate.decided") {
		d := ev.(*engine.GateDecided)
		who = append(who, fmt.Sprintf("%s:%d/%d", d.Operator, d.Approvals, d.Needed))
	}
	if strings.Join(who, " ") != "alice:1/2 bob:2/2" {
		t.Errorf("decisions %v", who)
	}
	// The shutdown happened only after the second approval.
	kinds := strings.Join(h.journal.kinds(), " ")
	if strings.Index(kinds, "action.intent") < strings.LastIndex(kinds, "gate.decided") {
		t.Error("the action ran before the second approval")
	}
}

func TestManualRecordKeepsTheAnswer(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: rec
sites:
  primary: {uri: sim://primary}
steps:
  - id: restore-check
    manual: Note the last invoice number you see.
    record: true
`
	h := newHarness(t, mustParse(t, "rec.yaml", src), false)
	outcome, _ := h.run(func(g *engine.GateOpened) {
		if !g.Record {
			t.Error("gate does not ask for an answer")
		}
		h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Operator: "alice"}) // no answer: refused
		h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Text: "INV-2026-0042", Operator: "alice"})
	})
	if outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s", outcome)
	}
	d := h.journal.find("gate.decided")
	if len(d) != 1 || d[0].(*engine.GateDecided).Typed != "INV-2026-0042" {
		t.Fatalf("decisions %+v", d)
	}
}
