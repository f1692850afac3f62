package libvirt

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
)

// inflight is how many calls wait for an answer on the site's first host.
func inflight(s *Site) int {
	k := s.hosts[0].current()
	if k == nil {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.inflight
}

// waitFor polls cond every 5ms until it holds, or fails the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := engine.Wait(ctxFor(t, 10*time.Second), 5*time.Millisecond, func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// TestMonitorDoesNotFailAction: the host freezes (SIGSTOP) while a start
// is in flight; the console's site monitor, polling with its short
// deadline, sees the site unreachable, but its giving up does not close
// the connection under the start. Once the host thaws, the start's true
// outcome is returned: done, the guest runs.
func TestMonitorDoesNotFailAction(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	d := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	d.Define(t, "shutoff", "web-01")
	s := openSite(t, "primary", testOpts, d.URI)
	wantState(t, s, "web-01", engine.StateShutoff) // caches the handle: the start is one call

	d.Pause()
	defer d.Continue()
	started := make(chan error, 1)
	go func() { started <- s.Start(ctxFor(t, 20*time.Second), "web-01") }()
	waitFor(t, "the start to be in flight", func() bool { return inflight(s) == 1 })

	mctx, stopMonitor := context.WithCancel(context.Background())
	defer stopMonitor()
	statuses := engine.Monitor(mctx, map[string]engine.Hypervisor{"primary": s}, 100*time.Millisecond)
	var seen []string
	for st := range statuses {
		seen = append(seen, st.Err)
		if !st.Reachable {
			if !regexpMatch(`no answer within (19\d|200)ms`, st.Err) {
				t.Errorf("the monitor says %q, want no answer within 200ms", st.Err)
			}
			break
		}
	}
	if len(seen) == 0 {
		t.Fatal("the monitor sent nothing")
	}
	select {
	case err := <-started:
		t.Fatalf("the start ended while the host was frozen: %v (the monitor's poll closed its connection)", err)
	default:
	}
	if st := s.Status(); st.State != Unreachable {
		t.Errorf("Status while frozen and polled = %+v, want unreachable", st)
	}

	d.Continue()
	if err := <-started; err != nil {
		t.Fatalf("Start once the host thawed = %v, want done", err)
	}
	stopMonitor()
	for range statuses {
	}
	if got := d.State(t, "web-01"); got != "running" {
		t.Errorf("virsh: web-01 is %s", got)
	}
	wantState(t, s, "web-01", engine.StateRunning)
	if st := s.Status(); st.State != Reachable {
		t.Errorf("Status after the thaw = %+v", st)
	}
}

// TestDoneAfterAll: a start whose answer did not come in time (the host
// froze past the call's deadline) but that the host carried out once it
// thawed is reported as done after all, not failed: the state is read
// again before the result is returned. Another call waiting on the same
// connection keeps it open, so the host gets the start.
func TestDoneAfterAll(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	d := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	d.Define(t, "shutoff", "web-01")
	s := openSite(t, "primary", testOpts, d.URI)
	wantState(t, s, "web-01", engine.StateShutoff)
	wantState(t, s, "test", engine.StateRunning)
	// The host thaws after the start's deadline, before the state is read
	// again, and carries the start out meanwhile.
	s.beforeVerdict = func() {
		d.Continue()
		waitFor(t, "virsh to see web-01 running", func() bool { return d.State(t, "web-01") == "running" })
	}

	d.Pause()
	defer d.Continue()
	other := make(chan error, 1)
	go func() { _, err := s.DomainState(ctxFor(t, 20*time.Second), "test"); other <- err }()
	waitFor(t, "the other call to be in flight", func() bool { return inflight(s) == 1 })
	err := s.Start(ctxFor(t, time.Second), "web-01")
	if !errors.Is(err, engine.ErrDoneAfterAll) || errors.Is(err, engine.ErrUnreachable) ||
		!strings.Contains(err.Error(), "domain web-01: start: no answer within 1s — check the host or the link; read again afterwards, the domain is running: done after all") {
		t.Errorf("Start = %v\nwant ErrDoneAfterAll: …no answer within 1s…read again afterwards, the domain is running: done after all", err)
	}
	if err := <-other; err != nil {
		t.Errorf("the other call: %v", err)
	}
}

// TestNotSent: a call whose deadline has already passed is not sent, says
// so, and leaves the connection to the calls in flight.
func TestNotSent(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	d := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	s := openSite(t, "primary", testOpts, d.URI)
	wantState(t, s, "test", engine.StateRunning)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	err := s.AgentPing(ctx, "test")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, engine.ErrUnreachable) ||
		!strings.Contains(err.Error(), "not sent: its deadline had already passed") || strings.Contains(err.Error(), "within -") {
		t.Errorf("AgentPing past its deadline = %v", err)
	}
	if st := s.Status(); st.State != Reachable {
		t.Errorf("Status after a call not sent = %+v", st)
	}
}
