package main

// The real binary against real libvirt daemons, one per site: the reference
// drill, the lab runbook, tiny QEMU guests that ignore ACPI shutdown, and
// repli check. Daemons, guests and sshd are started and stopped by
// engine/libvirt/libvirtlab; these tests skip loudly without libvirt, and
// fail under CI=true.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
)

// drillDomains are the domains of the reference runbook and of the lab's.
var drillDomains = []string{"db-01", "app-01", "app-02", "web-01"}

// twoSites starts a test-driver daemon per site with the drill's domains,
// running at the primary and shut off at the secondary.
func twoSites(t *testing.T) (primary, secondary *libvirtlab.Daemon, dir string) {
	t.Helper()
	libvirtlab.Require(t)
	dir = libvirtlab.TempDir(t)
	primary = libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	secondary = libvirtlab.StartTestDaemon(t, dir, "secondary", nil)
	primary.Define(t, "running", drillDomains...)
	secondary.Define(t, "shutoff", drillDomains...)
	return primary, secondary, dir
}

type runOpts struct {
	dir  string              // working directory; the repository root when empty
	cred *syscall.Credential // run as another account
}

// repli runs the binary under test and returns its exit code and output.
func repli(t *testing.T, o runOpts, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2eBinary(t), args...)
	cmd.Dir = o.dir
	if cmd.Dir == "" {
		cmd.Dir = filepath.Join("..", "..")
	}
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "REPLI_DB=")
	if o.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("repli %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errb.String()
}

func siteFlags(p, s *libvirtlab.Daemon) []string {
	return []string{"--site", "primary=" + p.URI, "--site", "secondary=" + s.URI}
}

// TestDrillsOnRealLibvirt runs the reference drill and the lab's runbook to
// success against two real daemons, then asks virsh what it sees.
func TestDrillsOnRealLibvirt(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"runbooks/examples/annual-pra-test.yaml", "runbooks/examples/lab-switchover.yaml"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			p, s, dir := twoSites(t)
			args := append([]string{"run", file, "--auto-approve", "--plain", "--db", filepath.Join(dir, "audit.db")}, siteFlags(p, s)...)
			code, out, errOut := repli(t, runOpts{}, args...)
			if code != 0 {
				t.Fatalf("repli %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
			}
			for _, d := range drillDomains {
				if got := p.State(t, d); got != "shut off" {
					t.Errorf("after the drill, virsh says primary %s is %q, want shut off", d, got)
				}
				if got := s.State(t, d); got != "running" {
					t.Errorf("after the drill, virsh says secondary %s is %q, want running", d, got)
				}
			}
			if !strings.Contains(out, p.URI) && !strings.Contains(out, "primary") {
				t.Errorf("the run's output never names the primary site:\n%s", out)
			}
		})
	}
}

// TestQEMUShutdownIgnored runs runbooks against tiny TCG guests, one per
// site: the guest ignores the ACPI request (it has no OS), so a shutdown
// with force: true destroys it after its timeout, and one without force
// fails with a message that says what to do. repli check reaches the same
// sites through ssh, as an operator whose ~/.ssh/config names them.
func TestQEMUShutdownIgnored(t *testing.T) {
	t.Parallel()
	libvirtlab.Require(t, "qemu-system-x86_64")
	dir := libvirtlab.TempDir(t)
	p := libvirtlab.StartQEMUDaemon(t, dir, "primary", "repli-primary")
	s := libvirtlab.StartQEMUDaemon(t, dir, "secondary", "repli-secondary")
	p.Define(t, "running", "vm-01")
	s.Define(t, "shutoff", "vm-01")

	write := func(name, body string) string {
		f := filepath.Join(dir, name+".yaml")
		src := fmt.Sprintf("version: 1\nname: %s\nsites:\n  primary:\n    uri: %s\n  secondary:\n    uri: %s\nsteps:\n%s", name, p.URI, s.URI, body)
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	switchover := write("qemu-switchover", `  - id: secondary-idle
    check: {site: secondary, domains: [vm-01], state: shutoff}
  - id: stop-primary
    shutdown: {site: primary, domains: [vm-01], timeout: 3s, force: true}
  - id: start-secondary
    start: {site: secondary, domains: [vm-01], timeout: 30s}
  - id: secondary-running
    check: {site: secondary, domains: [vm-01], state: running}
`)
	noForce := write("qemu-no-force", `  - id: stop-secondary
    shutdown: {site: secondary, domains: [vm-01], timeout: 2s}
`)

	t.Run("check over ssh", func(t *testing.T) { checkOverSSH(t, dir, p, s, switchover) })

	began := time.Now()
	code, out, errOut := repli(t, runOpts{}, "run", switchover, "--auto-approve", "--plain", "--db", filepath.Join(dir, "a.db"))
	if code != 0 {
		t.Fatalf("switchover with force: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "forcing it off") {
		t.Errorf("the output does not say the guest was forced off:\n%s", out)
	}
	if took := time.Since(began); took < 3*time.Second {
		t.Errorf("the switchover took %s: the 3s graceful timeout was not waited for", took)
	}
	if got := p.State(t, "vm-01"); got != "shut off" {
		t.Errorf("primary vm-01 is %q, want shut off", got)
	}
	if got := s.State(t, "vm-01"); got != "running" {
		t.Errorf("secondary vm-01 is %q, want running", got)
	}

	code, out, errOut = repli(t, runOpts{}, "run", noForce, "--auto-approve", "--plain", "--db", filepath.Join(dir, "b.db"))
	if code != 1 {
		t.Fatalf("shutdown without force of a guest that ignores it: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if all := out + errOut; !strings.Contains(all, "ignored the shutdown request and force is off") || !strings.Contains(all, "vm-01") {
		t.Errorf("the failure does not explain itself:\n%s\n%s", out, errOut)
	}
	if got := s.State(t, "vm-01"); got != "running" {
		t.Errorf("without force, secondary vm-01 is %q, want still running", got)
	}
}

// checkOverSSH runs repli check as an account whose ~/.ssh/config names
// both sites' hosts: the system ssh, virt-ssh-helper on the far side.
func checkOverSSH(t *testing.T, dir string, p, s *libvirtlab.Daemon, file string) {
	libvirtlab.RequireSSHD(t)
	sshd := libvirtlab.StartSSHD(t, dir,
		libvirtlab.SSHHost{Alias: "kvm-primary", User: p.User, Env: []string{"XDG_RUNTIME_DIR=" + p.RuntimeDir()}},
		libvirtlab.SSHHost{Alias: "kvm-secondary", User: s.User, Env: []string{"XDG_RUNTIME_DIR=" + s.RuntimeDir()}},
	)
	cred := &syscall.Credential{Uid: uint32(sshd.UID), Gid: uint32(sshd.GID), Groups: []uint32{}}
	code, out, errOut := repli(t, runOpts{dir: dir, cred: cred}, "check", file, "--timeout", "30s",
		"--site", "primary=qemu+ssh://kvm-primary/session", "--site", "secondary=qemu+ssh://kvm-secondary/session")
	if code != 0 || !strings.Contains(out, "✓ ready") || !strings.Contains(out, "QEMU") {
		t.Fatalf("repli check over ssh: exit %d\n%s\n%s\nsshd log:\n%s", code, out, errOut, sshd.Log())
	}
}
