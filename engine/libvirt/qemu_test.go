package libvirt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
)

// TestQEMUGuest runs a tiny diskless TCG guest in a session-mode daemon: it
// starts, ignores the ACPI shutdown request (it has no OS), and only a
// destroy stops it.
func TestQEMUGuest(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	q := libvirtlab.StartQEMUDaemon(t, dir, "primary", "repli-primary")
	q.Define(t, "shutoff", "vm-01")
	s := openSite(t, "primary", testOpts, q.URI)
	ctx := ctxFor(t, 60*time.Second)

	info, err := s.Info(ctx)
	if err != nil || info.Hypervisor != "QEMU" || info.HypervisorVersion == "0.0.0" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := s.Start(ctx, "vm-01"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if got := q.State(t, "vm-01"); got != "running" {
		t.Fatalf("virsh says vm-01 is %q after Start", got)
	}
	err = s.AgentPing(ctx, "vm-01")
	if err == nil || !strings.Contains(err.Error(), "agent") || !strings.Contains(err.Error(), "domain vm-01") {
		t.Errorf("AgentPing on a guest without agent = %v", err)
	}

	began := time.Now()
	if err := s.Shutdown(ctx, "vm-01"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Shutdown took %s; it must return once the request is sent", took)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = engine.Wait(wctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		st, err := s.DomainState(ctx, "vm-01")
		return st == engine.StateShutoff, err
	})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for the OS-less guest to shut off ended with %v; it should ignore ACPI", err)
	}
	if err := s.Destroy(ctx, "vm-01"); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	wantState(t, s, "vm-01", engine.StateShutoff)

	x, err := s.DomainXML(ctx, "vm-01")
	if err != nil {
		t.Fatal(err)
	}
	px, err := PortableXML(x)
	if err != nil || strings.Contains(px, "<emulator>") || !strings.Contains(px, "<uuid>") {
		t.Errorf("PortableXML of a QEMU guest (%v):\n%s", err, px)
	}
}

// TestSSH reaches a session daemon through a real sshd on 127.0.0.1 with the
// system ssh run by an account whose ~/.ssh/config names the host aliases:
// once through virt-ssh-helper (the far side has no nc), once through the
// nc fallback (the far side has no virt-ssh-helper).
func TestSSH(t *testing.T) {
	t.Parallel()
	libvirtlab.RequireSSHD(t)
	dir := libvirtlab.TempDir(t)
	q := libvirtlab.StartQEMUDaemon(t, dir, "primary", "repli-primary")
	q.Define(t, "shutoff", "vm-01")
	onlyHelper := binDir(t, filepath.Join(dir, "bin-helper"), "sh", "grep", "virt-ssh-helper")
	onlyNC := binDir(t, filepath.Join(dir, "bin-nc"), "sh", "grep", "nc")
	sshd := libvirtlab.StartSSHD(t, dir,
		libvirtlab.SSHHost{Alias: "kvm-helper", User: q.User, Env: []string{"PATH=" + onlyHelper, "XDG_RUNTIME_DIR=" + q.RuntimeDir()}},
		libvirtlab.SSHHost{Alias: "kvm-nc", User: q.User, Env: []string{"PATH=" + onlyNC}},
	)
	ssh := sshd.SSHWrapper(t)
	for _, uri := range []string{
		"qemu+ssh://kvm-helper/session?command=" + ssh,
		"qemu+ssh://kvm-nc/session?command=" + ssh + "&socket=" + q.Socket,
	} {
		t.Run(strings.Split(uri, "/")[2], func(t *testing.T) {
			s := openSite(t, "primary", testOpts, uri)
			info, err := s.Info(ctxFor(t, 30*time.Second))
			if err != nil || info.Hypervisor != "QEMU" {
				t.Fatalf("Info over %s = %+v, %v\nsshd log:\n%s", uri, info, err, sshd.Log())
			}
			wantState(t, s, "vm-01", engine.StateShutoff)
			if err := s.SetAutostart(ctxFor(t, 10*time.Second), "vm-01", true); err != nil {
				t.Errorf("SetAutostart over ssh: %v", err)
			}
		})
	}

	// Nothing listens there: ssh's own words reach the operator.
	uri := fmt.Sprintf("qemu+ssh://127.0.0.1:%d/session?command=%s", libvirtlab.FreePort(t), ssh)
	s := openSite(t, "primary", testOpts, uri)
	_, err := s.Info(ctxFor(t, 10*time.Second))
	if !errors.Is(err, engine.ErrUnreachable) || !strings.Contains(err.Error(), "Connection refused") || !strings.Contains(err.Error(), "site primary ("+uri+")") {
		t.Errorf("Info through ssh to a closed port = %v", err)
	}
}

// binDir makes a directory holding only the named programs, to stand for
// the PATH of a far side that lacks some.
func binDir(t *testing.T, dir string, tools ...string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestAgentNotConfigured: wait: agent on a guest that has no guest agent
// channel must fail at once, with libvirt's own words, as ErrNoAgent; a
// guest whose channel is configured but whose agent is not (yet) up is an
// ordinary error, worth waiting on.
func TestAgentNotConfigured(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	q := libvirtlab.StartQEMUDaemon(t, dir, "primary", "repli-primary")
	q.Define(t, "running", "vm-01")
	x := strings.Replace(libvirtlab.QEMUDomainXML("vm-02"), "<memballoon",
		"<channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\n    <memballoon", 1)
	f := filepath.Join(dir, "vm-02.xml")
	writeFile(t, f, x)
	q.Virsh(t, "define", f)
	q.Virsh(t, "start", "vm-02")
	s := openSite(t, "primary", testOpts, q.URI)

	err := s.AgentPing(ctxFor(t, 30*time.Second), "vm-01")
	if !errors.Is(err, engine.ErrNoAgent) || !strings.Contains(err.Error(), "QEMU guest agent is not configured") ||
		!strings.Contains(err.Error(), "site primary ("+q.URI+"), domain vm-01: ping the guest agent:") {
		t.Errorf("AgentPing on a guest without an agent channel = %v\nwant ErrNoAgent with libvirt's words", err)
	}
	err = s.AgentPing(ctxFor(t, 30*time.Second), "vm-02")
	if err == nil || errors.Is(err, engine.ErrNoAgent) || !strings.Contains(err.Error(), "agent") {
		t.Errorf("AgentPing on a guest whose agent is not up = %v\nwant an error that is not ErrNoAgent", err)
	}
	for _, vm := range []string{"vm-01", "vm-02"} {
		if err := s.Destroy(ctxFor(t, 30*time.Second), vm); err != nil {
			t.Error(err)
		}
	}
}
