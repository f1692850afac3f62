package engine_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
)

// TestMonitorSeesChangesAndOutages: a lifecycle change shows without waiting
// for the next poll, and an unreachable site is reported as such.
func TestMonitorSeesChangesAndOutages(t *testing.T) {
	t.Parallel()
	lab := sim.NewLab(1, 1)
	lab.AddDomain("primary", "db-01", engine.StateShutoff)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A long interval: only the push can deliver the change in time.
	ch := engine.Monitor(ctx, map[string]engine.Hypervisor{"primary": lab.Site("primary")}, time.Hour)
	next := func() engine.SiteStatus {
		t.Helper()
		select {
		case st := <-ch:
			return st
		case <-time.After(10 * time.Second):
			t.Fatal("no status")
		}
		return engine.SiteStatus{}
	}
	if st := next(); !st.Reachable || st.Domains["db-01"] != engine.StateShutoff {
		t.Fatalf("first status %+v", st)
	}
	if err := lab.Site("primary").Start(ctx, "db-01"); err != nil {
		t.Fatal(err)
	}
	if st := next(); st.Domains["db-01"] != engine.StateRunning {
		t.Fatalf("after start %+v", st)
	}
	cancel()
	for range ch {
	}

	// A site that stops answering shows as unreachable at the next poll.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	ch = engine.Monitor(ctx2, map[string]engine.Hypervisor{"primary": lab.Site("primary")}, 10*time.Millisecond)
	if st := next(); !st.Reachable {
		t.Fatalf("status %+v", st)
	}
	lab.SetReachable("primary", false)
	for st := next(); st.Reachable; st = next() {
	}
	lab.SetReachable("primary", true)
	for st := next(); !st.Reachable; st = next() {
	}
}

// listCounter counts how often the monitor lists a site's domains.
type listCounter struct {
	*sim.Site
	lists atomic.Int32
}

func (c *listCounter) ListDomains(ctx context.Context) ([]engine.Domain, error) {
	c.lists.Add(1)
	return c.Site.ListDomains(ctx)
}

// TestMonitorKeepsStateFromEvents: between polls the site's status is kept
// from its lifecycle events, not listed again on each (a 500-domain
// switchover listed 500 domains 1,000 times), and it ends where the site is.
func TestMonitorKeepsStateFromEvents(t *testing.T) {
	t.Parallel()
	lab := sim.NewLab(1, 1000) // starts take milliseconds
	const n = 50
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("vm-%02d", i)
		lab.AddDomain("primary", names[i], engine.StateShutoff)
	}
	site := &listCounter{Site: lab.Site("primary")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := engine.Monitor(ctx, map[string]engine.Hypervisor{"primary": site}, time.Hour)
	if st := <-ch; len(st.Domains) != n {
		t.Fatalf("first status has %d domains, want %d", len(st.Domains), n)
	}
	for _, name := range names {
		if err := lab.Site("primary").Start(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(10 * time.Second)
	for {
		var st engine.SiteStatus
		select {
		case st = <-ch:
		case <-deadline:
			t.Fatal("the status never showed every domain running")
		}
		running := 0
		for _, s := range st.Domains {
			if s == engine.StateRunning {
				running++
			}
		}
		if running == n && len(st.Domains) == n {
			break
		}
	}
	if got := site.lists.Load(); got != 1 {
		t.Errorf("the site was listed %d times for %d changes within one poll interval, want once", got, n)
	}
}
