package libvirt

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
)

// shutdownOne is what the engine's shutdown step does for one domain on a
// guest that obeys: read its state, ask it to shut down, wait for shut off.
func shutdownOne(ctx context.Context, s *Site, name string) error {
	if st, err := s.DomainState(ctx, name); err != nil || st == engine.StateShutoff {
		return err
	}
	if err := s.Shutdown(ctx, name); err != nil {
		return err
	}
	return engine.Wait(ctx, 10*time.Millisecond, func(ctx context.Context) (bool, error) {
		st, err := s.DomainState(ctx, name)
		return st == engine.StateShutoff, err
	})
}

// each runs fn on every name, limit at a time, and returns the errors.
func each(names []string, limit int, fn func(string) error) []error {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(n); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

func vmNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("vm-%03d", i)
	}
	return names
}

// TestParallelShutdown shuts 60 domains down 16 at a time over one
// connection (run it with -race): every one ends shut off, as virsh sees.
func TestParallelShutdown(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	d := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	names := vmNames(60)
	d.Define(t, "running", names...)
	s := openSite(t, "primary", testOpts, d.URI)
	ctx := ctxFor(t, 60*time.Second)
	if errs := each(names, 16, func(n string) error { return shutdownOne(ctx, s, n) }); len(errs) > 0 {
		t.Fatalf("%d shutdowns failed, first: %v", len(errs), errs[0])
	}
	if running := d.Virsh(t, "list", "--name", "--state-running"); strings.TrimSpace(running) != "test" {
		t.Errorf("virsh list --state-running after the parallel shutdown:\n%s", running)
	}
}

// TestStaleHandle: a domain undefined and defined again behind the
// driver's back (same name, new UUID) is still found: the cached handle is
// dropped and the domain looked up again.
func TestStaleHandle(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	d := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	d.Define(t, "shutoff", "web-01")
	s := openSite(t, "primary", testOpts, d.URI)
	wantState(t, s, "web-01", engine.StateShutoff)
	before := d.Virsh(t, "domuuid", "web-01")
	d.Virsh(t, "undefine", "web-01")
	d.Define(t, "shutoff", "web-01")
	if after := d.Virsh(t, "domuuid", "web-01"); after == before {
		t.Fatalf("the test driver gave the new web-01 the same UUID %s", after)
	}
	if err := s.Start(ctxFor(t, 10*time.Second), "web-01"); err != nil {
		t.Fatalf("Start of the redefined domain: %v", err)
	}
	if got := d.State(t, "web-01"); got != "running" {
		t.Errorf("virsh: web-01 is %s", got)
	}
	d.Virsh(t, "destroy", "web-01")
	d.Virsh(t, "undefine", "web-01")
	if _, err := s.DomainState(ctxFor(t, 10*time.Second), "web-01"); err == nil || !strings.Contains(err.Error(), "web-01") {
		t.Errorf("DomainState of an undefined domain with a cached handle = %v", err)
	}
}

// BenchmarkShutdownParallel measures the engine's shutdown sequence for
// 200 domains, 16 at a time over one connection, with domain handles
// cached per connection and, as before, looked up by name on every call;
// requests/domain counts the requests sent to the daemon.
func BenchmarkShutdownParallel(b *testing.B) {
	libvirtlab.Require(b)
	dir := libvirtlab.TempDir(b)
	d := libvirtlab.StartTestDaemon(b, dir, "bench", nil)
	names := vmNames(200)
	d.Define(b, "shutoff", names...)
	for _, mode := range []struct {
		name    string
		noCache bool
	}{{"handles=looked-up", true}, {"handles=cached", false}} {
		b.Run(mode.name, func(b *testing.B) {
			opts := Options{noHandleCache: mode.noCache}
			s, err := Open(context.Background(), "bench", []string{d.URI}, opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			var requests int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if errs := each(names, 16, func(n string) error { return s.Start(ctx, n) }); len(errs) > 0 {
					b.Fatal(errs[0])
				}
				before := s.hosts[0].requests.Load()
				b.StartTimer()
				if errs := each(names, 16, func(n string) error { return shutdownOne(ctx, s, n) }); len(errs) > 0 {
					b.Fatal(errs[0])
				}
				requests += s.hosts[0].requests.Load() - before
			}
			b.ReportMetric(float64(requests)/float64(b.N*len(names)), "requests/domain")
		})
	}
}
