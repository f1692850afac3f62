package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
)

func TestCheckPlacements(t *testing.T) {
	t.Parallel()
	on := func(host string, st engine.DomainState) engine.Placement {
		return engine.Placement{Host: host, State: st}
	}
	for _, c := range []struct {
		name       string
		ps         []engine.Placement
		several    bool
		splitBrain bool
		says       string
	}{
		{"nowhere", nil, false, false, ""},
		{"one host", []engine.Placement{on("kvm1", engine.StateRunning)}, false, false, ""},
		{"two hosts, one running", []engine.Placement{on("kvm1", engine.StateShutoff), on("kvm2", engine.StateRunning)}, true, false,
			"domain db-01 is defined on 2 hosts of site primary: kvm1 (shutoff), kvm2 (running)"},
		{"two hosts, both off", []engine.Placement{on("kvm1", engine.StateShutoff), on("kvm2", engine.StateShutoff)}, true, false, "defined on 2 hosts"},
		{"running on two", []engine.Placement{on("kvm1", engine.StateRunning), on("kvm2", engine.StatePaused)}, true, true,
			"split brain: domain db-01 runs on 2 hosts of site primary at once: kvm1 (running), kvm2 (paused)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := engine.CheckPlacements("primary", "db-01", c.ps)
			if errors.Is(err, engine.ErrSeveralHosts) != c.several || errors.Is(err, engine.ErrSplitBrain) != c.splitBrain {
				t.Errorf("CheckPlacements = %v; want several hosts %t, split brain %t", err, c.several, c.splitBrain)
			}
			if (err == nil) != (c.says == "") || (err != nil && !strings.Contains(err.Error(), c.says)) {
				t.Errorf("CheckPlacements = %v, want it to say %q", err, c.says)
			}
		})
	}
}

// TestFenceSim fences a running domain with autostart on at a simulated
// site, and refuses to call a site that does not answer fenced.
func TestFenceSim(t *testing.T) {
	t.Parallel()
	lab := sim.NewLab(1, 100)
	lab.AddDomain("primary", "db-01", engine.StateRunning)
	site := lab.Site("primary")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := site.SetAutostart(ctx, "db-01", true); err != nil {
		t.Fatal(err)
	}
	after, err := engine.Fence(ctx, site, "db-01")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 || after[0].State != engine.StateShutoff || after[0].Autostart || after[0].Host != "sim://primary" {
		t.Errorf("Fence left %+v", after)
	}
	if st, _ := site.DomainState(ctx, "db-01"); st != engine.StateShutoff || site.Autostart("db-01") {
		t.Errorf("db-01 after the fence: %s, autostart %t", st, site.Autostart("db-01"))
	}
	if _, err := engine.Fence(ctx, site, "never-defined"); err != nil {
		t.Errorf("Fence of a domain defined nowhere = %v, want fenced", err)
	}
	if err := lab.Inject("unreachable=primary"); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Fence(ctx, site, "db-01"); !errors.Is(err, engine.ErrUnreachable) {
		t.Errorf("Fence at an unreachable site = %v, want ErrUnreachable", err)
	}
}

func TestVerdict(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]string{
		nil:                   "",
		engine.ErrUnreachable: "",
		errors.Join(engine.ErrDoneAfterAll, errors.New("no answer within 30s")):                      engine.VerdictDoneAfterAll,
		errors.Join(engine.ErrUnreachable, engine.ErrInDoubt, errors.New("could not be read again")): engine.VerdictInDoubt,
	} {
		if got := engine.Verdict(err); got != want {
			t.Errorf("Verdict(%v) = %q, want %q", err, got, want)
		}
	}
}
