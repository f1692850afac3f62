package engine_test

import (
	"strings"
	"testing"

	"github.com/repli-dr/repli/engine"
)

const fenceRunbook = `version: 1
name: fence
sites:
  primary: {uri: sim://primary, role: primary}
  secondary: {uri: sim://secondary, role: secondary}
steps:
  - id: seen
    modes: [disaster]
    on_failure: continue
    check: {site: primary, domains: [db-01, web-01], state: running}
  - id: fence-primary
    modes: [disaster]
    fence: {site: primary, domains: [db-01, web-01]}
  - id: start-secondary
    start: {site: secondary, domains: [db-01, web-01]}
`

// In a disaster the lost site's guests must not come back beside the new
// ones: a site that answers is fenced (off, autostart off); one that does
// not stops at a gate where a person states how it is isolated.
func TestFenceTheLostSite(t *testing.T) {
	t.Parallel()
	rb := mustParse(t, "fence.yaml", fenceRunbook)

	h := newHarnessMode(t, rb, true, "disaster")
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("site answering: outcome %s err %v", o, err)
	}
	for _, d := range []string{"db-01", "web-01"} {
		if s := h.domainState("primary", d); s != engine.StateShutoff {
			t.Errorf("primary/%s is %s after the fence", d, s)
		}
	}
	if n := len(h.journal.find("action.intent")); n < 2 {
		t.Errorf("%d actions: each fence is journaled", n)
	}

	// The site does not answer: with nobody to state the isolation, the
	// step fails rather than pretend.
	h = newHarnessMode(t, rb, true, "disaster", "unreachable=primary")
	if o, _ := h.run(nil); o == engine.OutcomeSucceeded {
		t.Fatal("an unreachable site was 'fenced' by --auto-approve")
	}
	if end := h.ended(); !strings.Contains(end.Reason, "state how it is isolated") {
		t.Errorf("reason %q", end.Reason)
	}

	// With a person: the isolation gate, answered with what was done.
	h = newHarnessMode(t, rb, false, "disaster", "unreachable=primary")
	o, err := h.run(func(g *engine.GateOpened) {
		in := engine.Input{Step: g.Step, Kind: engine.InputApprove, Operator: "dan"}
		if g.Gate == "isolation" {
			in.Text = "power cut at the PDU, ticket 4711"
		}
		h.eng.Send(in)
	})
	if err != nil || o != engine.OutcomeSucceeded {
		t.Fatalf("isolation stated: outcome %s err %v", o, err)
	}
	var stated bool
	for _, ev := range h.journal.find("gate.decided") {
		d := ev.(*engine.GateDecided)
		stated = stated || (d.Step == "fence-primary" && d.Operator == "dan" && strings.Contains(d.Typed, "power cut"))
	}
	if !stated {
		t.Error("the isolation statement is not in the trail")
	}
}
