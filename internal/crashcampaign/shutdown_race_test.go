package crashcampaign_test

import (
	"context"
	"sync"
	"testing"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/runbooks"
)

// lateGuest is a simulated site whose guest finishes shutting down between
// the engine's read of its state and its shutdown request: the first read
// of the domain says "in shutdown" although it is already shut off. The
// crash campaign met it on resume (seed 20261130, cycle 57): a shutdown
// killed mid-way left web-01 "in shutdown", the resumed step read that,
// asked again, and the guest was off by then.
type lateGuest struct {
	engine.Hypervisor
	domain string
	mu     sync.Mutex
	lied   bool
}

func (g *lateGuest) DomainState(ctx context.Context, name string) (engine.DomainState, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if name == g.domain && !g.lied {
		g.lied = true
		return engine.StateShuttingDown, nil
	}
	return g.Hypervisor.DomainState(ctx, name)
}

type journal struct {
	mu     sync.Mutex
	events []engine.Event
}

func (j *journal) Append(_ context.Context, ev engine.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, ev)
	return nil
}

// TestShutdownThatFindsItsTargetOffSucceeds is issue 9 item 4: a shutdown
// whose guest reached shut off between the state read and the request
// (libvirt and the simulator answer "operation not valid") has succeeded;
// the run must not abort.
func TestShutdownThatFindsItsTargetOffSucceeds(t *testing.T) {
	t.Parallel()
	src := []byte(`version: 1
name: late-guest
sites:
  primary:
    uri: sim://primary
steps:
  - id: stop
    title: Stop the web server
    shutdown:
      site: primary
      domains: [web-01]
      timeout: 1m
`)
	rb, diags := runbooks.Parse("late-guest.yaml", src)
	if rb == nil {
		t.Fatalf("parse: %v", diags)
	}
	lab := sim.NewLab(1, 100)
	lab.AddDomain("primary", "web-01", engine.StateShutoff)
	hv, err := lab.Hypervisor("sim://primary")
	if err != nil {
		t.Fatal(err)
	}
	j := &journal{}
	eng, err := engine.New(rb, map[string]engine.Hypervisor{"primary": &lateGuest{Hypervisor: hv, domain: "web-01"}}, j, engine.Options{AutoApprove: true, TimeScale: 100})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range eng.Events() {
		}
	}()
	outcome, err := eng.Run(context.Background())
	if err != nil || outcome != engine.OutcomeSucceeded {
		var why string
		for _, ev := range j.events {
			if o, ok := ev.(*engine.ActionOutcome); ok && !o.OK {
				why = o.Error
			}
		}
		t.Fatalf("run = %s, %v; want succeeded (a guest found off has shut down): %s", outcome, err, why)
	}
}
