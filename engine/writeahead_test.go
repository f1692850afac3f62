package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/store"
)

// durableIntents wraps the real store and remembers the actions whose
// intent a commit has made durable, and how many commits there were.
type durableIntents struct {
	*store.Store
	mu      sync.Mutex
	intents map[string]bool // site/domain/verb
	commits int
	events  int
}

func (j *durableIntents) record(evs []engine.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.commits++
	j.events += len(evs)
	for _, ev := range evs {
		if in, ok := ev.(*engine.ActionIntent); ok {
			j.intents[in.Site+"/"+in.Domain+"/"+in.Verb] = true
		}
	}
}

func (j *durableIntents) Append(ctx context.Context, ev engine.Event) error {
	if err := j.Store.Append(ctx, ev); err != nil {
		return err
	}
	j.record([]engine.Event{ev})
	return nil
}

func (j *durableIntents) AppendBatch(ctx context.Context, evs []engine.Event) error {
	if err := j.Store.AppendBatch(ctx, evs); err != nil {
		return err
	}
	j.record(evs)
	return nil
}

// checked is a site that refuses to act on a domain whose intent is not
// durable yet.
type checked struct {
	engine.Hypervisor
	site string
	j    *durableIntents
	t    *testing.T
}

func (c checked) durable(d, verb string) {
	c.j.mu.Lock()
	defer c.j.mu.Unlock()
	if !c.j.intents[c.site+"/"+d+"/"+verb] {
		c.t.Errorf("%s %s/%s acted before its intent was durable", verb, c.site, d)
	}
}

func (c checked) Start(ctx context.Context, d string) error {
	c.durable(d, "start")
	return c.Hypervisor.Start(ctx, d)
}

func (c checked) Shutdown(ctx context.Context, d string) error {
	c.durable(d, "shutdown")
	return c.Hypervisor.Shutdown(ctx, d)
}

// Parallel actions on a real SQLite trail: every action acts only once its
// intent is durable, the trail's chain verifies, its sequence has no gap,
// and every intent has its outcome.
func TestParallelActionsWriteAheadOnARealTrail(t *testing.T) {
	t.Parallel()
	var doms []string
	for i := range 24 {
		doms = append(doms, fmt.Sprintf("vm-%02d", i))
	}
	list := strings.Join(doms, ", ")
	rb := mustParse(t, "par.yaml", `version: 1
name: par
sites:
  primary: {uri: sim://primary}
  secondary: {uri: sim://secondary}
steps:
  - id: stop
    gate: none
    shutdown: {site: primary, max_parallel: 8, domains: [`+list+`]}
  - id: start
    gate: none
    start: {site: secondary, groups: [[`+list+`]]}
`)
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, err := s.CreateRun(ctx, store.RunInfo{Runbook: "par", Mode: "test", Operator: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	j := &durableIntents{Store: s, intents: map[string]bool{}}
	lab := sim.NewLab(3, speed)
	lab.Populate(rb, nil)
	sites := map[string]engine.Hypervisor{
		"primary":   checked{lab.Site("primary"), "primary", j, t},
		"secondary": checked{lab.Site("secondary"), "secondary", j, t},
	}
	eng, err := engine.New(rb, sites, j, engine.Options{RunID: id, AutoApprove: true, TimeScale: speed})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range eng.Events() {
		}
	}()
	if o, err := eng.Run(ctx); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("outcome %s err %v", o, err)
	}
	if v, err := s.Verify(ctx, id); err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}
	evs, err := s.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range evs {
		if ev.EventMeta().Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i+1, ev.EventMeta().Seq)
		}
	}
	p, _ := engine.ProgressOf(evs)
	if n := len(p.Actions); n != 2*len(doms) {
		t.Errorf("%d actions, want %d", n, 2*len(doms))
	}
	for _, a := range p.Actions {
		if a.Result != engine.ActionOK {
			t.Errorf("action %d %s %s: %s", a.Intent.Action, a.Intent.Verb, a.Intent.Domain, a.Result)
		}
	}
	t.Logf("%d events in %d commits", j.events, j.commits)
}
