package main

// Kill -9 and resume against real libvirt daemons: at the gates of the
// reference drill (test driver), and in the middle of a graceful shutdown
// that a real TCG guest ignores (QEMU).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
	"github.com/repli-dr/repli/store"
)

func TestKillAndResumeOnRealLibvirt(t *testing.T) {
	t.Parallel()
	for _, p := range []struct {
		name    string
		answers string
		killAt  int
	}{
		{"at-typed-gate", "y\ny\ny\n", 15},
		{"at-confirm-gate", "y\ny\ny\nprimary\n", 29},
		{"at-last-manual-step", "y\ny\ny\nprimary\ny\n", 51},
	} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			primary, secondary, dir := twoSites(t)
			db := filepath.Join(dir, "audit.db")
			args := append([]string{"run", referenceDrill, "--plain", "--db", db}, siteFlags(primary, secondary)...)
			c := startRepli(t, nil, args...)
			c.answer(p.answers)
			waitEvents(t, db, p.killAt, c.done)
			c.kill()

			r := runRepli(t, "", "resume", "1", "--auto-approve", "--plain", "--db", db, "--take-over", "console killed in a test")
			if r.code != 0 {
				t.Fatalf("resume: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if v := runRepli(t, "", "verify", "--db", db); v.code != 0 {
				t.Fatalf("verify: %s %s", v.stdout, v.stderr)
			}
			checkNoRepeatedActions(t, db)
			for _, d := range drillDomains {
				if got := primary.State(t, d); got != "shut off" {
					t.Errorf("primary %s is %q after the resumed run", d, got)
				}
				if got := secondary.State(t, d); got != "running" {
					t.Errorf("secondary %s is %q after the resumed run", d, got)
				}
			}
		})
	}
}

// TestKillMidShutdownOfARealGuest kills the console while it waits for a TCG
// guest that ignores ACPI to shut down: on resume the shutdown is in doubt,
// the live state says it did not happen, and the step finishes it (forced).
func TestKillMidShutdownOfARealGuest(t *testing.T) {
	t.Parallel()
	libvirtlab.Require(t, "qemu-system-x86_64")
	dir := libvirtlab.TempDir(t)
	p := libvirtlab.StartQEMUDaemon(t, dir, "primary", "repli-primary")
	p.Define(t, "running", "vm-01")
	file := filepath.Join(dir, "stop.yaml")
	src := fmt.Sprintf("version: 1\nname: stop\nsites:\n  primary: {uri: %q}\nsteps:\n  - id: stop\n    gate: none\n    shutdown: {site: primary, domains: [vm-01], timeout: 8s, force: true}\n", p.URI)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "audit.db")
	c := startRepli(t, nil, "run", file, "--auto-approve", "--plain", "--db", db)
	// Wait for the shutdown's intent: the console now waits for the guest.
	deadline := time.Now().Add(time.Minute)
	for !hasIntent(db, "shutdown") {
		if time.Now().After(deadline) {
			t.Fatal("no shutdown intent within a minute")
		}
		select {
		case err := <-c.done:
			t.Fatalf("repli exited early: %v\n%s", err, c.errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	c.kill()
	if got := p.State(t, "vm-01"); got != "running" {
		t.Fatalf("vm-01 is %q: the guest was expected to ignore ACPI", got)
	}
	r := runRepli(t, "", "resume", "1", "--auto-approve", "--plain", "--db", db, "--take-over", "console killed mid-shutdown")
	if r.code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "in doubt: shutdown primary/vm-01: not done") || !strings.Contains(r.stdout, "forcing it off") {
		t.Errorf("resume output:\n%s", r.stdout)
	}
	if got := p.State(t, "vm-01"); got != "shut off" {
		t.Errorf("vm-01 is %q after the resumed run", got)
	}
	if v := runRepli(t, "", "verify", "--db", db); v.code != 0 {
		t.Fatalf("verify: %s %s", v.stdout, v.stderr)
	}
}

func hasIntent(db, verb string) bool {
	s, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		return false
	}
	defer s.Close()
	evs, _ := s.Events(context.Background(), 1)
	for _, ev := range evs {
		if in, ok := ev.(*engine.ActionIntent); ok && in.Verb == verb {
			return true
		}
	}
	return false
}
