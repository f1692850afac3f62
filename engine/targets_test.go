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

// Guests that ignore ACPI, shut down max_parallel at a time: every request
// goes out before the first is forced off (the step takes about one
// timeout, not one per guest), and every one ends forced off and recorded.
func TestParallelShutdownOfGuestsThatIgnoreACPI(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: parallel
sites:
  primary: {uri: sim://primary}
steps:
  - id: stop
    shutdown: {site: primary, domains: [a-01, a-02, a-03, a-04], timeout: 1m, force: true, max_parallel: 4}
`
	faults := []string{"ignore-shutdown=primary/a-01", "ignore-shutdown=primary/a-02", "ignore-shutdown=primary/a-03", "ignore-shutdown=primary/a-04"}
	h := newHarness(t, mustParse(t, "parallel.yaml", src), true, faults...)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("outcome %s err %v", o, err)
	}
	var order []string
	for _, ev := range h.journal.events {
		if in, ok := ev.(*engine.ActionIntent); ok {
			order = append(order, in.Verb)
		}
	}
	firstDestroy := slices.Index(order, "destroy")
	if firstDestroy != 4 || strings.Count(strings.Join(order, " "), "destroy") != 4 {
		t.Errorf("actions %v: want the four shutdown requests sent before the first force-off", order)
	}
	for _, d := range []string{"a-01", "a-02", "a-03", "a-04"} {
		if s := h.domainState("primary", d); s != engine.StateShutoff {
			t.Errorf("%s is %s", d, s)
		}
	}
	// Without max_parallel, one at a time in order: shutdown, destroy, …
	h = newHarness(t, mustParse(t, "parallel.yaml", strings.Replace(src, ", max_parallel: 4", "", 1)), true, faults...)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("outcome %s err %v", o, err)
	}
	order = nil
	for _, ev := range h.journal.find("action.intent") {
		in := ev.(*engine.ActionIntent)
		order = append(order, in.Verb+" "+in.Domain)
	}
	want := []string{"shutdown a-01", "destroy a-01", "shutdown a-02", "destroy a-02", "shutdown a-03", "destroy a-03", "shutdown a-04", "destroy a-04"}
	if !slices.Equal(order, want) {
		t.Errorf("one at a time: %v, want %v", order, want)
	}
}
