package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
)

// estate is a switchover of n domains: stop them all at the primary site,
// start them all at the secondary in groups of 50.
func estate(b *testing.B, n int) *runbooks.Runbook {
	b.Helper()
	var doms, groups []string
	for i := range n {
		doms = append(doms, fmt.Sprintf("vm-%03d", i))
	}
	for i := 0; i < n; i += 50 {
		groups = append(groups, "["+strings.Join(doms[i:min(i+50, n)], ", ")+"]")
	}
	src := fmt.Sprintf(`version: 1
name: estate
sites:
  primary: {uri: sim://primary}
  secondary: {uri: sim://secondary}
steps:
  - id: stop
    gate: none
    shutdown: {site: primary, domains: [%s]}
  - id: start
    start:
      site: secondary
      groups: [%s]
`, strings.Join(doms, ", "), strings.Join(groups, ", "))
	rb, diags := runbooks.Parse("estate.yaml", []byte(src))
	if rb == nil {
		b.Fatal(diags)
	}
	return rb
}

func runEstate(b *testing.B, rb *runbooks.Runbook, j engine.Journal, runID int64) {
	b.Helper()
	lab := sim.NewLab(1, 1e4) // the lab is near instant: what is measured is the console
	lab.Populate(rb, nil)
	sites := map[string]engine.Hypervisor{"primary": lab.Site("primary"), "secondary": lab.Site("secondary")}
	eng, err := engine.New(rb, sites, j, engine.Options{RunID: runID, AutoApprove: true, TimeScale: 1e4, Poll: 200 * time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for range eng.Events() {
		}
	}()
	if o, err := eng.Run(context.Background()); o != engine.OutcomeSucceeded || err != nil {
		if mj, ok := j.(*memJournal); ok {
			for _, ev := range mj.find("run.ended") {
				b.Log(ev.(*engine.RunEnded).Reason)
			}
		}
		b.Fatal(o, err)
	}
}

// BenchmarkSwitchover500 is the engine's own cost of a 500-domain switchover
// (1,000 actions), journal in memory.
func BenchmarkSwitchover500(b *testing.B) {
	rb := estate(b, 500)
	for b.Loop() {
		runEstate(b, rb, &memJournal{}, 1)
	}
}

// BenchmarkSwitchover500Durable is the same with every event committed
// durably to a real SQLite audit trail, as in production.
func BenchmarkSwitchover500Durable(b *testing.B) {
	rb := estate(b, 500)
	s, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "audit.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for b.Loop() {
		id, err := s.CreateRun(context.Background(), store.RunInfo{Runbook: "estate", Mode: "test", Operator: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		runEstate(b, rb, s, id)
	}
}
