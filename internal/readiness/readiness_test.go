package readiness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/runbooks"
)

// TestJudge pins how a state is judged against the first step's
// precondition, as the kinds declare it.
func TestJudge(t *testing.T) {
	t.Parallel()
	check := func(state string) *runbooks.Step {
		return &runbooks.Step{Kind: runbooks.KindCheck, Check: &runbooks.Check{State: state}}
	}
	kind := func(k runbooks.Kind) *runbooks.Step { return &runbooks.Step{Kind: k} }
	tests := []struct {
		st      *runbooks.Step
		got     engine.DomainState
		verdict string
	}{
		{check(""), engine.StatePaused, OK},
		{kind(runbooks.KindDestroy), engine.StateShutoff, Warning},
		{kind(runbooks.KindSuspend), engine.StatePaused, Warning},
		{kind(runbooks.KindSuspend), engine.StateShutoff, Blocker},
		{kind(runbooks.KindResume), engine.StatePaused, OK},
		{kind(runbooks.KindResume), engine.StateRunning, Warning},
		{kind(runbooks.KindUndefine), engine.StateRunning, Blocker},
		{check("running"), engine.StateRunning, OK},
		{check("running"), engine.StateBlocked, OK},
		{check("shutoff"), engine.StateRunning, Blocker},
		{kind(runbooks.KindShutdown), engine.StateRunning, OK},
		{kind(runbooks.KindShutdown), engine.StateShutoff, Warning},
		{kind(runbooks.KindShutdown), engine.StateCrashed, Warning},
		{kind(runbooks.KindShutdown), engine.StatePaused, Warning},
		{kind(runbooks.KindStart), engine.StateShutoff, OK},
		{kind(runbooks.KindStart), engine.StateCrashed, OK},
		{kind(runbooks.KindStart), engine.StateRunning, Warning},
		{kind(runbooks.KindStart), engine.StatePaused, Blocker},
		{kind(runbooks.KindSnapshot), engine.StatePaused, OK},
		{kind(runbooks.KindAutostart), engine.StateShutoff, OK},
	}
	for _, tt := range tests {
		v, note := Judge(tt.st.Precondition(0), "s", tt.got)
		if v != tt.verdict || (v != OK && !strings.Contains(note, "step s")) {
			t.Errorf("Judge(%s, is %s) = %s %q, want %s", tt.st.Kind, tt.got, v, note, tt.verdict)
		}
	}
}

const twoSites = `version: 1
name: preflight
sites:
  primary: {uri: "sim://primary", role: primary}
  secondary: {uri: "sim://secondary", role: secondary}
steps:
  - id: stop-web
    shutdown: {site: primary, domains: "web-*", force: true}
  - id: stop-db
    shutdown: {site: primary, domains: [db-01]}
  - id: start-all
    start: {site: secondary, domains: all}
`

// lab parses src and connects it to a fresh simulated lab that setup fills.
func lab(t *testing.T, src string, setup func(l *sim.Lab)) (*runbooks.Runbook, map[string]string, map[string]engine.Hypervisor) {
	t.Helper()
	rb, diags := runbooks.Parse("preflight.yaml", []byte(src))
	if rb == nil || diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	l := sim.NewLab(1, 1)
	setup(l)
	uris, sites := map[string]string{}, map[string]engine.Hypervisor{}
	for _, s := range rb.Sites {
		hv, err := l.Hypervisor(s.URI)
		if err != nil {
			t.Fatal(err)
		}
		uris[s.Name], sites[s.Name] = s.URI, hv
	}
	return rb, uris, sites
}

func assess(t *testing.T, src, mode string, setup func(l *sim.Lab)) *Report {
	t.Helper()
	rb, uris, sites := lab(t, src, setup)
	return Assess(context.Background(), rb, mode, nil, uris, sites, 5*time.Second)
}

func printed(rep *Report) string {
	var b strings.Builder
	rep.Print(&b)
	return b.String()
}

// TestGlobsResolvedAtPreflight: a glob and "all" are listed with the
// domains they match now, and those domains are judged like named ones.
func TestGlobsResolvedAtPreflight(t *testing.T) {
	t.Parallel()
	rep := assess(t, twoSites, "test", func(l *sim.Lab) {
		for _, d := range []string{"web-02", "web-01", "db-01"} {
			l.AddDomain("primary", d, engine.StateRunning)
			l.AddDomain("secondary", d, engine.StateShutoff)
		}
		l.AddDomain("primary", "mail-01", engine.StateRunning)
	})
	if !rep.Ready {
		t.Fatalf("not ready: %v", rep.Blockers)
	}
	got := map[string]string{}
	for _, r := range rep.Targets {
		got[r.Step] = strings.Join(r.Domains, ",")
	}
	if got["stop-web"] != "web-01,web-02" || got["start-all"] != "db-01,web-01,web-02" || len(rep.Targets) != 2 {
		t.Errorf("resolved targets = %+v", rep.Targets)
	}
	var names []string
	for _, d := range rep.Sites[0].Domains {
		names = append(names, d.Name+"<"+d.Step+":"+d.Expects+">")
	}
	if strings.Join(names, " ") != "db-01<stop-db:running> web-01<stop-web:running> web-02<stop-web:running>" {
		t.Errorf("primary domains judged: %v", names)
	}
	lines := strings.Join(rep.Lines(), "\n")
	if !strings.Contains(lines, "preflight target: step stop-web: web-* at primary matched 2 domain(s) at the start: web-01, web-02") {
		t.Errorf("the journal lines do not record the resolved glob:\n%s", lines)
	}
	out := printed(rep)
	for _, want := range []string{"Targets resolved now", "stop-web: web-* at primary → 2: web-01, web-02", "✓ ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

// TestGlobMatchingNothingIsABlocker: a typo in a glob is caught before the
// run, not at its step.
func TestGlobMatchingNothingIsABlocker(t *testing.T) {
	t.Parallel()
	src := strings.Replace(twoSites, `"web-*"`, `"wbe-*"`, 1)
	rep := assess(t, src, "test", func(l *sim.Lab) {
		for _, d := range []string{"web-01", "db-01"} {
			l.AddDomain("primary", d, engine.StateRunning)
			l.AddDomain("secondary", d, engine.StateShutoff)
		}
	})
	if rep.Ready || len(rep.Blockers) != 1 || !strings.Contains(rep.Blockers[0], "step stop-web: wbe-* at primary matches no domain") {
		t.Fatalf("a glob matching nothing: ready %t, blockers %q", rep.Ready, rep.Blockers)
	}
	if out := printed(rep); !strings.Contains(out, "wbe-* at primary → ✗ matches no domain") {
		t.Errorf("the report does not show the empty match:\n%s", out)
	}
}

// TestDomainOnTwoHostsIsABlocker: a domain defined on two hosts of a site
// is a blocker naming both hosts; running on both, it is split brain.
func TestDomainOnTwoHostsIsABlocker(t *testing.T) {
	t.Parallel()
	for _, copyState := range []engine.DomainState{engine.StateShutoff, engine.StateRunning} {
		rep := assess(t, twoSites, "test", func(l *sim.Lab) {
			for _, d := range []string{"web-01", "db-01"} {
				l.AddDomain("primary", d, engine.StateRunning)
				l.AddDomain("secondary", d, engine.StateShutoff)
			}
			l.AddCopy("primary", "sim://primary/kvm2", "db-01", copyState)
		})
		if rep.Ready || len(rep.Blockers) != 1 {
			t.Fatalf("copy %s: ready %t, blockers %q", copyState, rep.Ready, rep.Blockers)
		}
		b := rep.Blockers[0]
		if !strings.Contains(b, "db-01") || !strings.Contains(b, "sim://primary (running)") || !strings.Contains(b, "sim://primary/kvm2 ("+string(copyState)+")") {
			t.Errorf("copy %s: the blocker does not name both hosts: %q", copyState, b)
		}
		split := copyState == engine.StateRunning
		if (len(rep.SplitBrain) == 1) != split || strings.HasPrefix(b, "SPLIT BRAIN") != split {
			t.Errorf("copy %s: split brain %q, blocker %q", copyState, rep.SplitBrain, b)
		}
		var db Domain
		for _, d := range rep.Sites[0].Domains {
			if d.Name == "db-01" {
				db = d
			}
		}
		if db.Verdict != Blocker || len(db.Placements) != 2 || db.Host == "" {
			t.Errorf("copy %s: db-01 = %+v", copyState, db)
		}
		if out := printed(rep); split != strings.Contains(out, "✗✗ SPLIT BRAIN: split brain: domain db-01 runs on 2 hosts") || !strings.Contains(out, "HOST") {
			t.Errorf("copy %s: the report:\n%s", copyState, out)
		}
	}
}

// TestSplitBrainAcrossSites: after a disaster failover, the lost primary
// came back with its guests running beside the new secondary's.
func TestSplitBrainAcrossSites(t *testing.T) {
	t.Parallel()
	rep := assess(t, twoSites, "test", func(l *sim.Lab) {
		for _, d := range []string{"web-01", "db-01"} {
			l.AddDomain("primary", d, engine.StateRunning)
			l.AddDomain("secondary", d, engine.StateShutoff)
		}
		l.AddDomain("secondary", "db-01", engine.StateRunning)
	})
	if len(rep.SplitBrain) != 1 || rep.Ready {
		t.Fatalf("split brain %q, ready %t", rep.SplitBrain, rep.Ready)
	}
	for _, want := range []string{"db-01 runs at 2 sites", "primary (running)", "secondary (running)", "fence"} {
		if !strings.Contains(rep.SplitBrain[0], want) {
			t.Errorf("split brain %q lacks %q", rep.SplitBrain[0], want)
		}
	}
	found := false
	for _, b := range rep.Blockers {
		found = found || strings.HasPrefix(b, "SPLIT BRAIN: ")
	}
	if !found {
		t.Errorf("split brain is not a blocker: %q", rep.Blockers)
	}
	if !strings.HasPrefix(printed(rep), "Readiness of preflight (preflight.yaml)\n\n✗✗ SPLIT BRAIN: ") {
		t.Errorf("split brain is not said first:\n%s", printed(rep))
	}
}

// TestUnreachableSiteLeavesGlobsUnknown: a glob at a site that does not
// answer is listed as unknown; the site is the blocker, not the glob.
func TestUnreachableSiteLeavesGlobsUnknown(t *testing.T) {
	t.Parallel()
	rep := assess(t, twoSites, "test", func(l *sim.Lab) {
		l.AddDomain("secondary", "db-01", engine.StateShutoff)
		l.Site("primary")
		l.SetReachable("primary", false)
	})
	if rep.Ready || len(rep.Blockers) != 1 || !strings.Contains(rep.Blockers[0], "site primary is unreachable") {
		t.Fatalf("blockers %q", rep.Blockers)
	}
	if len(rep.Targets) != 2 || rep.Targets[0].Known || !rep.Targets[1].Known {
		t.Errorf("targets %+v", rep.Targets)
	}
}
