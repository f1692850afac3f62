package engine_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/repli-dr/repli/engine"
)

const globRunbook = `version: 1
name: globs
sites:
  primary: {uri: sim://primary}
steps:
  - id: seen
    check: {site: primary, domains: [web-01, web-02, web-03, db-01], state: running}
  - id: stop-web
    gate: typed
    shutdown: {site: primary, domains: "%s", timeout: 1m, force: true}
`

// The gate of a glob step shows, and its record covers, exactly the domains
// the step acts on; a glob that matches nothing stops before anything.
func TestGlobResolvedAtTheGate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, mustParse(t, "globs.yaml", strings.Replace(globRunbook, "%s", "web-*", 1)), true)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("outcome %s err %v", o, err)
	}
	g := h.journal.find("gate.opened")[0].(*engine.GateOpened)
	want := []string{"web-01", "web-02", "web-03"}
	if !slices.Equal(g.Targets, want) || !strings.Contains(g.Prompt, "3 domain(s) at site primary: web-01, web-02, web-03") {
		t.Errorf("gate shows %q targets %v, want %v", g.Prompt, g.Targets, want)
	}
	var acted []string
	for _, ev := range h.journal.find("action.intent") {
		acted = append(acted, ev.(*engine.ActionIntent).Domain)
	}
	slices.Sort(acted)
	if !slices.Equal(slices.Compact(acted), want) {
		t.Errorf("acted on %v, want exactly %v", acted, want)
	}
	if s := h.domainState("primary", "db-01"); s != engine.StateRunning {
		t.Errorf("db-01 is %s; the glob did not name it", s)
	}

	h = newHarness(t, mustParse(t, "globs.yaml", strings.Replace(globRunbook, "%s", "vn-*", 1)), true)
	o, err := h.run(nil)
	if err != nil || o != engine.OutcomeFailed {
		t.Fatalf("a glob matching nothing: outcome %s err %v, want failed", o, err)
	}
	if end := h.ended(); !strings.Contains(end.Reason, "matches no domain") {
		t.Errorf("reason %q", end.Reason)
	}
	if n := len(h.journal.find("action.intent")); n != 0 {
		t.Errorf("%d actions although the glob matched nothing", n)
	}
}
