package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

// TestStandings: a run whose console heartbeats is running; the same run
// judged after the staleness window, or with its lease released, is
// interrupted; an ended run is not judged.
func TestStandings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	a := console(t, path, leaseT0)
	id := createRun(t, a, "erp")
	l, err := a.AcquireLease(ctx, id, alice)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, a, id, 0, failoverEvents("")[:3])
	done := createRun(t, a, "dns")
	appendAll(t, a, done, 0, failoverEvents(engine.OutcomeSucceeded))

	judge := func(at time.Time) Standing {
		t.Helper()
		s := console(t, path, at)
		st, err := s.Standings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st[done]; ok {
			t.Errorf("the ended run %d was judged: %v", done, st)
		}
		return st[id]
	}
	if st := judge(leaseT0.Add(LeaseStaleAfter / 2)); st.Interrupted {
		t.Errorf("a live console's run reads interrupted: %+v", st)
	}
	if st := judge(leaseT0.Add(3 * LeaseStaleAfter)); !st.Interrupted || !strings.Contains(st.Why, "no heartbeat") || !strings.Contains(st.Why, "alice") {
		t.Errorf("a stale lease: %+v", st)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if st := judge(leaseT0); !st.Interrupted || !strings.Contains(st.Why, "no console holds the run") {
		t.Errorf("a released lease: %+v", st)
	}
}

// TestStartFacts: the sites and the reverse link come from run.started,
// and a run is simulated only when every site is.
func TestStartFacts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTemp(t)
	sim := failoverEvents(engine.OutcomeSucceeded)
	st := *sim[0].(*engine.RunStarted)
	st.Sites = map[string]string{"primary": "sim://primary", "dr": "sim://dr"}
	st.ReverseOf, st.ReverseOfSHA256 = "erp", strings.Repeat("cd", 32)
	sim[0] = &st
	for _, evs := range [][]engine.Event{failoverEvents(engine.OutcomeSucceeded), sim} {
		appendAll(t, s, createRun(t, s, "erp"), 0, evs)
	}
	f, err := s.StartFacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f[1].Simulated() || f[1].Sites["dr"] != "qemu+ssh://kvm-b/system" || f[1].ReverseOf != "" {
		t.Errorf("run 1: %+v", f[1])
	}
	if !f[2].Simulated() || f[2].ReverseOf != "erp" || f[2].ReverseOfSHA256 != strings.Repeat("cd", 32) {
		t.Errorf("run 2: %+v", f[2])
	}
	if (StartFacts{Sites: map[string]string{"a": "sim://a", "b": "qemu:///system"}}).Simulated() {
		t.Error("a run with one real site is simulated")
	}
	got, err := s.Started(ctx, 2)
	if err != nil || got.ReverseOf != "erp" || got.Source != "name: erp\n" {
		t.Errorf("Started(2) = %+v, %v", got, err)
	}
}
