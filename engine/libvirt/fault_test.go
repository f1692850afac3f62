package libvirt

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
)

// TestHungDaemon freezes the daemon (SIGSTOP) in the middle of a step: the
// calls in flight and the next ones fail within their deadline with "no
// answer within", the site says it is unreachable, and once the daemon
// runs again (SIGCONT) a retry succeeds on a new connection.
func TestHungDaemon(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	d := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	d.Define(t, "running", "db-01", "app-01")
	s := openSite(t, "primary", testOpts, d.URI)
	wantState(t, s, "db-01", engine.StateRunning)

	// A step polls a domain's state, as the engine's waits do.
	stepCtx, stopStep := context.WithCancel(context.Background())
	defer stopStep()
	var (
		mu      sync.Mutex
		stepErr error
	)
	stepDone := make(chan struct{})
	go func() {
		defer close(stepDone)
		err := engine.Wait(stepCtx, 10*time.Millisecond, func(ctx context.Context) (bool, error) {
			cctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
			defer cancel()
			_, err := s.DomainState(cctx, "app-01")
			return false, err
		})
		mu.Lock()
		stepErr = err
		mu.Unlock()
	}()
	time.Sleep(100 * time.Millisecond)
	d.Pause()
	defer d.Continue()

	const deadline = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	began := time.Now()
	err := s.Shutdown(ctx, "db-01")
	took := time.Since(began)
	cancel()
	if err == nil {
		t.Fatal("Shutdown on a frozen daemon succeeded")
	}
	// The call's deadline, then as long again to re-read the state.
	if took > 5*time.Second { // far below the 15 s call timeout: the deadline held
		t.Errorf("Shutdown on a frozen daemon returned after %s, deadline %s", took, deadline)
	}
	if !errors.Is(err, engine.ErrUnreachable) || !errors.Is(err, engine.ErrInDoubt) ||
		!strings.Contains(err.Error(), "site primary ("+d.URI+"), domain db-01: request guest shutdown: no answer within 500ms") ||
		!strings.Contains(err.Error(), "could not be read again") {
		t.Errorf("Shutdown on a frozen daemon = %v\nwant ErrUnreachable and ErrInDoubt: site primary (URI), domain db-01: …no answer within 500ms…could not be read again", err)
	}
	select {
	case <-stepDone:
	case <-time.After(2 * time.Second):
		t.Fatal("the step's poll is still blocked 2s after the daemon froze")
	}
	mu.Lock()
	if !errors.Is(stepErr, engine.ErrUnreachable) {
		t.Errorf("the step's poll ended with %v, want ErrUnreachable", stepErr)
	}
	mu.Unlock()
	if st := s.Status(); st.State != Unreachable || st.Hosts[0].Err == nil || !strings.Contains(st.Hosts[0].Err.Error(), "no answer within") {
		t.Errorf("Status while frozen = %+v", st)
	}

	// Still frozen: a reconnection attempt times out too.
	if _, err := s.DomainState(ctxFor(t, 300*time.Millisecond), "db-01"); !errors.Is(err, engine.ErrUnreachable) {
		t.Errorf("DomainState while still frozen = %v", err)
	}

	// Thawed, the daemon may or may not carry out the request that was
	// sent before the freeze (it finds the request and the closed
	// connection together; both happen here, from run to run): which is
	// why the answer was "in doubt", not "failed".
	d.Continue()
	if st, err := s.DomainState(ctxFor(t, 5*time.Second), "db-01"); err != nil || (st != engine.StateRunning && st != engine.StateShutoff) {
		t.Errorf("db-01 once thawed: %s, %v", st, err)
	}
	if err := s.Shutdown(ctxFor(t, 5*time.Second), "app-01"); err != nil {
		t.Fatalf("Shutdown after SIGCONT: %v", err)
	}
	if got := d.State(t, "app-01"); got != "shut off" {
		t.Errorf("app-01 is %q after a shutdown once thawed", got)
	}
	if st := s.Status(); st.State != Reachable {
		t.Errorf("Status after recovery = %+v", st)
	}
}

// TestHungDaemonAtOpen: a site frozen before the console opens does not stop
// Open, and the first call fails within its deadline.
func TestHungDaemonAtOpen(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	d := libvirtlab.StartTestDaemon(t, dir, "secondary", nil)
	d.Pause()
	defer d.Continue()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	began := time.Now()
	s, err := Open(ctx, "secondary", []string{d.URI}, testOpts)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if took := time.Since(began); took > time.Second {
		t.Errorf("Open took %s on a frozen daemon with a 300ms context", took)
	}
	began = time.Now()
	_, err = s.Info(ctxFor(t, 400*time.Millisecond))
	if !errors.Is(err, engine.ErrUnreachable) || time.Since(began) > time.Second {
		t.Errorf("Info on a frozen daemon = %v after %s", err, time.Since(began))
	}
	d.Continue()
	if _, err := s.Info(ctxFor(t, 20*time.Second)); err != nil {
		t.Errorf("Info after SIGCONT: %v", err)
	}
}

// TestDaemonKilled: a killed daemon makes the site unreachable at once; when
// it is back, the next call reconnects.
func TestDaemonKilled(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	d := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	s := openSite(t, "primary", testOpts, d.URI)
	wantState(t, s, "test", engine.StateRunning)

	d.Kill()
	began := time.Now()
	_, err := s.DomainState(ctxFor(t, 5*time.Second), "test")
	if !errors.Is(err, engine.ErrUnreachable) || !strings.Contains(err.Error(), "site primary ("+d.URI+")") {
		t.Errorf("DomainState on a killed daemon = %v, want ErrUnreachable naming the site", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("a killed daemon took %s to be reported", took)
	}
	if st := s.Status(); st.State != Unreachable {
		t.Errorf("Status with the daemon killed = %+v", st)
	}

	d.Restart()
	if err := s.Start(ctxFor(t, 5*time.Second), "test"); !errors.Is(err, engine.ErrInvalidOperation) {
		// The restarted test driver has its "test" domain running again.
		t.Errorf("Start after restart = %v, want the daemon's answer (already running)", err)
	}
	wantState(t, s, "test", engine.StateRunning)
	if st := s.Status(); st.State != Reachable {
		t.Errorf("Status after restart = %+v", st)
	}
}

// TestUnreachableURI: nothing listens there. Open does not fail (a dead
// primary must not stop a failover), calls do, naming the site and URI.
func TestUnreachableURI(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	uri := "qemu+unix:///system?socket=" + dir + "/nobody-home"
	s := openSite(t, "primary", testOpts, uri)
	_, err := s.ListDomains(ctxFor(t, 2*time.Second))
	if !errors.Is(err, engine.ErrUnreachable) || !strings.Contains(err.Error(), "site primary ("+uri+"): list domains: connect: ") {
		t.Errorf("ListDomains = %v", err)
	}
	// Backoff: while it runs, calls with a nearer deadline fail at once.
	s2 := openSite(t, "primary", Options{MinBackoff: time.Hour, MaxBackoff: time.Hour}, uri)
	began := time.Now()
	_, err = s2.Info(ctxFor(t, time.Second))
	if !errors.Is(err, engine.ErrUnreachable) || !strings.Contains(err.Error(), "next attempt in") || time.Since(began) > 200*time.Millisecond {
		t.Errorf("Info during backoff = %v after %s", err, time.Since(began))
	}
}
