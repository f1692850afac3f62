package engine_test

import (
	"context"
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
