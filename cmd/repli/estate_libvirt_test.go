package main

// Globs resolved at the gate, and fencing a lost site, against two real
// libvirt test-driver daemons (issue 10): the real binary, states read
// back with virsh, decisions read back from the audit trail. These skip
// loudly without libvirt, and fail under CI=true, like the other
// libvirt tests.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
	"github.com/repli-dr/repli/store"
)

// estateRunbook writes a runbook for the two daemons to dir.
func estateRunbook(t *testing.T, dir, name string, p, s *libvirtlab.Daemon, steps string) string {
	t.Helper()
	f := filepath.Join(dir, name+".yaml")
	src := fmt.Sprintf("version: 1\nname: %s\nsites:\n  primary:\n    uri: %q\n    role: primary\n  secondary:\n    uri: %q\n    role: secondary\nsteps:\n%s", name, p.URI, s.URI, steps)
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// trailEvents reads every event of a run from the audit trail.
func trailEvents(t *testing.T, db string, run int64) []engine.Event {
	t.Helper()
	st, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.Events(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestGlobResolvedAtTheGateOnRealLibvirt: a shutdown of "web-*" at a site
// running web-01, web-02 and db-01 shows the operator exactly the two web
// domains at its gate, records them as the gate's targets, and shuts off
// those only. A glob that matches nothing is refused before the run starts.
func TestGlobResolvedAtTheGateOnRealLibvirt(t *testing.T) {
	t.Parallel()
	libvirtlab.Require(t)
	dir := libvirtlab.TempDir(t)
	p := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	s := libvirtlab.StartTestDaemon(t, dir, "secondary", nil)
	p.Define(t, "running", "web-01", "web-02", "db-01")
	s.Define(t, "shutoff", "web-01", "web-02", "db-01")
	db := filepath.Join(dir, "audit.db")

	file := estateRunbook(t, dir, "stop-web", p, s, `  - id: stop-web
    gate: confirm
    shutdown: {site: primary, domains: "web-*", timeout: 20s, force: true}
`)
	code, out, errOut := repli(t, runOpts{}, "run", file, "--auto-approve", "--plain", "--db", db, "--no-replica", "a test lab on one machine")
	if code != 0 {
		t.Fatalf("repli run %s: exit %d\n%s\n%s", file, code, out, errOut)
	}

	var opened *engine.GateOpened
	for _, ev := range trailEvents(t, db, 1) {
		if g, ok := ev.(*engine.GateOpened); ok && g.Step == "stop-web" {
			opened = g
		}
	}
	if opened == nil {
		t.Fatalf("no gate.opened for step stop-web in the trail\n%s", out)
	}
	got := slices.Clone(opened.Targets)
	slices.Sort(got)
	if want := []string{"web-01", "web-02"}; !slices.Equal(got, want) {
		t.Errorf("gate.opened targets = %v, want %v", opened.Targets, want)
	}
	// The prompt the operator approves lists the glob's domains, and the
	// console says what the glob resolved to.
	if !strings.Contains(opened.Prompt, "web-01, web-02") {
		t.Errorf("the gate's prompt does not list web-01, web-02: %q", opened.Prompt)
	}
	if !strings.Contains(out, "web-* at primary: web-01, web-02") {
		t.Errorf("the console does not say what web-* resolved to:\n%s", out)
	}
	if strings.Contains(opened.Prompt, "db-01") {
		t.Errorf("the gate's prompt names db-01, which the glob does not match: %s", opened.Prompt)
	}
	// The same, as repli show tells it.
	code, js, errOut := repli(t, runOpts{}, "show", "1", "--output", "json", "--db", db)
	if code != 0 {
		t.Fatalf("repli show 1 --output json: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(js, `"targets"`) || !strings.Contains(js, `"web-01"`) || !strings.Contains(js, `"web-02"`) {
		t.Errorf("repli show --output json does not carry the gate's targets:\n%s", js)
	}
	for d, want := range map[string]string{"web-01": "shut off", "web-02": "shut off", "db-01": "running"} {
		if got := p.State(t, d); got != want {
			t.Errorf("after the run, virsh says primary %s is %q, want %q", d, got, want)
		}
	}

	// A glob matching no domain: refused at preflight, nothing started.
	none := estateRunbook(t, dir, "stop-none", p, s, `  - id: stop-none
    gate: confirm
    shutdown: {site: primary, domains: "vn-*", timeout: 20s, force: true}
`)
	code, out, errOut = repli(t, runOpts{}, "run", none, "--auto-approve", "--plain", "--db", filepath.Join(dir, "none.db"), "--no-replica", "a test lab on one machine")
	if code != exitUsage {
		t.Fatalf("a glob matching nothing: exit %d, want %d\n%s\n%s", code, exitUsage, out, errOut)
	}
	if all := out + errOut; !strings.Contains(all, "vn-* at primary matches no domain") {
		t.Errorf("the refusal does not say the glob matches no domain:\n%s\n%s", out, errOut)
	}
	if !strings.Contains(errOut, "not ready") {
		t.Errorf("the refusal does not come from the preflight:\n%s", errOut)
	}
	if got := p.State(t, "db-01"); got != "running" {
		t.Errorf("after the refused run, primary db-01 is %q", got)
	}
}

// fenceSteps is a disaster runbook's core: fence the primary, then start
// at the secondary.
const fenceSteps = `  - id: fence-primary
    modes: [disaster]
    gate: confirm
    fence: {site: primary, domains: [db-01, web-01]}
  - id: start-secondary
    gate: none
    start: {site: secondary, domains: [db-01, web-01], timeout: 20s}
`

// TestFenceOnRealLibvirt runs a disaster: with the primary daemon still
// answering, its domains are forced off and their autostart turned off;
// with it killed, the fence asks a person how the site is isolated, and
// the answer is kept in the trail.
func TestFenceOnRealLibvirt(t *testing.T) {
	t.Parallel()
	fenced := []string{"db-01", "web-01"}

	t.Run("primary answers", func(t *testing.T) {
		t.Parallel()
		libvirtlab.Require(t)
		dir := libvirtlab.TempDir(t)
		p := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
		s := libvirtlab.StartTestDaemon(t, dir, "secondary", nil)
		p.Define(t, "running", fenced...)
		s.Define(t, "shutoff", fenced...)
		for _, d := range fenced {
			p.Virsh(t, "autostart", d)
			if info := p.Virsh(t, "dominfo", d); !autostartIs(info, "enable") {
				t.Fatalf("setting up: virsh autostart %s did not take:\n%s", d, info)
			}
		}
		file := estateRunbook(t, dir, "fence", p, s, fenceSteps)
		code, out, errOut := repli(t, runOpts{}, "run", file, "--mode", "disaster", "--auto-approve", "--plain",
			"--db", filepath.Join(dir, "audit.db"), "--no-replica", "a test lab on one machine")
		if code != 0 {
			t.Fatalf("repli run --mode disaster: exit %d\n%s\n%s", code, out, errOut)
		}
		for _, d := range fenced {
			if got := p.State(t, d); got != "shut off" {
				t.Errorf("after the fence, virsh says primary %s is %q, want shut off", d, got)
			}
			if info := p.Virsh(t, "dominfo", d); !autostartIs(info, "disable") {
				t.Errorf("after the fence, primary %s keeps its autostart:\n%s", d, info)
			}
			if got := s.State(t, d); got != "running" {
				t.Errorf("after the run, secondary %s is %q, want running", d, got)
			}
		}
	})

	t.Run("primary lost", func(t *testing.T) {
		t.Parallel()
		libvirtlab.Require(t)
		dir := libvirtlab.TempDir(t)
		p := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
		s := libvirtlab.StartTestDaemon(t, dir, "secondary", nil)
		p.Define(t, "running", fenced...)
		s.Define(t, "shutoff", fenced...)
		file := estateRunbook(t, dir, "fence", p, s, fenceSteps)
		p.Kill()

		db := filepath.Join(dir, "audit.db")
		statement := "power cut at the PDU"
		// y confirms the fence; the statement answers its isolation gate.
		r := runRepli(t, "y\n"+statement+"\n", "run", file, "--mode", "disaster", "--plain",
			"--db", db, "--no-replica", "a test lab on one machine")
		if r.code != 0 {
			t.Fatalf("repli run --mode disaster with the primary gone: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "State how the site is isolated") {
			t.Errorf("the fence never asks how the site is isolated:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, "fenced by isolation, as stated by") || !strings.Contains(r.stdout, statement) {
			t.Errorf("the console does not say the site was fenced by the stated isolation:\n%s", r.stdout)
		}
		var asked, stated bool
		for _, ev := range trailEvents(t, db, 1) {
			switch e := ev.(type) {
			case *engine.GateOpened:
				asked = asked || (e.Step == "fence-primary" && e.Gate == "isolation")
			case *engine.GateDecided:
				stated = stated || (e.Step == "fence-primary" && e.Approved && e.Typed == statement)
			}
		}
		if !asked {
			t.Error("no isolation gate for fence-primary in the trail")
		}
		if !stated {
			t.Errorf("the trail does not record the statement %q as the fence's decision", statement)
		}
		for _, d := range fenced {
			if got := s.State(t, d); got != "running" {
				t.Errorf("after the run, secondary %s is %q, want running", d, got)
			}
		}
	})
}

// autostartIs reads the Autostart line of virsh dominfo.
func autostartIs(dominfo, want string) bool {
	for _, l := range strings.Split(dominfo, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "Autostart" {
			return strings.TrimSpace(v) == want
		}
	}
	return false
}

// TestQEMUParallelShutdownOfGuestsThatIgnoreACPI: real TCG guests that
// ignore ACPI, shut down three at a time (max_parallel: 3): every shutdown
// request goes out before the first guest is forced off, so the step takes
// about one graceful timeout, not one per guest; each ends forced off.
func TestQEMUParallelShutdownOfGuestsThatIgnoreACPI(t *testing.T) {
	t.Parallel()
	libvirtlab.Require(t, "qemu-system-x86_64")
	dir := libvirtlab.TempDir(t)
	p := libvirtlab.StartQEMUDaemon(t, dir, "primary", "repli-primary")
	guests := []string{"vm-01", "vm-02", "vm-03"}
	for _, g := range guests {
		p.Define(t, "running", g)
	}
	rb := filepath.Join(dir, "parallel.yaml")
	src := fmt.Sprintf("version: 1\nname: parallel\nsites:\n  primary:\n    uri: %s\nsteps:\n  - id: stop\n    shutdown: {site: primary, domains: [%s], timeout: 3s, force: true, max_parallel: 3}\n", p.URI, strings.Join(guests, ", "))
	if err := os.WriteFile(rb, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "audit.db")
	code, out, errOut := repli(t, runOpts{}, "run", rb, "--auto-approve", "--plain", "--db", db)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var verbs []string
	for _, ev := range trailEvents(t, db, 1) {
		if in, ok := ev.(*engine.ActionIntent); ok {
			verbs = append(verbs, in.Verb)
		}
	}
	if first := slices.Index(verbs, "destroy"); first != len(guests) || strings.Count(strings.Join(verbs, " "), "destroy") != len(guests) {
		t.Errorf("actions %v: want the %d shutdown requests sent before the first force-off", verbs, len(guests))
	}
	for _, g := range guests {
		if got := p.State(t, g); got != "shut off" {
			t.Errorf("%s is %q, want shut off", g, got)
		}
	}
}
