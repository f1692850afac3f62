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

// testOpts are short backoffs, so that tests do not wait for reconnection.
var testOpts = Options{CallTimeout: 15 * time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}

func openSite(t *testing.T, name string, opts Options, uris ...string) *Site {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, name, uris, opts)
	if err != nil {
		t.Fatalf("Open(%s, %v): %v", name, uris, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func wantState(t *testing.T, s *Site, dom string, want engine.DomainState) {
	t.Helper()
	got, err := s.DomainState(ctxFor(t, 5*time.Second), dom)
	if err != nil {
		t.Fatalf("DomainState(%s): %v", dom, err)
	}
	if got != want {
		t.Fatalf("DomainState(%s) = %s, want %s", dom, got, want)
	}
}

// TestOperations drives every operation of engine.Hypervisor against a real
// test-driver daemon, and checks the result with virsh, a second client.
func TestOperations(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	d := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	d.Define(t, "running", "db-01", "app-01")
	d.Define(t, "shutoff", "web-01")
	s := openSite(t, "primary", testOpts, d.URI)
	ctx := ctxFor(t, 60*time.Second)

	if st := s.Status(); st.State != Reachable {
		t.Errorf("Status after Open = %+v, want reachable", st)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Hypervisor != "TEST" || !strings.Contains(info.LibvirtVersion, ".") || info.Hostname == "" || len(info.Hosts) != 1 || info.Hosts[0] != d.URI {
		t.Errorf("Info = %+v", info)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}

	doms, err := s.ListDomains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Domain{{Name: "app-01", State: engine.StateRunning}, {Name: "db-01", State: engine.StateRunning}, {Name: "test", State: engine.StateRunning}, {Name: "web-01", State: engine.StateShutoff}}
	if len(doms) != len(want) {
		t.Fatalf("ListDomains = %v, want %v", doms, want)
	}
	for i := range want {
		if doms[i].Name != want[i].Name || doms[i].State != want[i].State || doms[i].Host != d.URI || doms[i].Placements != nil {
			t.Errorf("ListDomains[%d] = %v, want %v", i, doms[i], want[i])
		}
	}

	// Lifecycle, each step checked by virsh.
	steps := []struct {
		do    func(context.Context, string) error
		name  string
		dom   string
		virsh string
	}{
		{s.Suspend, "suspend", "db-01", "paused"},
		{s.Resume, "resume", "db-01", "running"},
		{s.Shutdown, "shutdown", "db-01", "shut off"},
		{s.Start, "start", "db-01", "running"},
		{s.Destroy, "destroy", "app-01", "shut off"},
		{s.Start, "start", "web-01", "running"},
	}
	for _, st := range steps {
		if err := st.do(ctx, st.dom); err != nil {
			t.Fatalf("%s %s: %v", st.name, st.dom, err)
		}
		if got := d.State(t, st.dom); got != st.virsh {
			t.Fatalf("after %s %s, virsh says %q, want %q", st.name, st.dom, got, st.virsh)
		}
	}
	wantState(t, s, "app-01", engine.StateShutoff)

	// Errors name the site, the URI and the domain, and wrap the sentinels.
	err = s.Start(ctx, "db-01")
	if !errors.Is(err, engine.ErrInvalidOperation) || !strings.Contains(err.Error(), "site primary ("+d.URI+"), domain db-01: start: ") {
		t.Errorf("Start(running domain) = %v, want ErrInvalidOperation naming site, URI and domain", err)
	}
	_, err = s.DomainState(ctx, "db-99")
	if !errors.Is(err, engine.ErrDomainNotFound) || !strings.Contains(err.Error(), "domain db-99") || !strings.Contains(err.Error(), d.URI) {
		t.Errorf("DomainState(missing) = %v, want ErrDomainNotFound naming it", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Site != "primary" || e.Domain != "db-99" {
		t.Errorf("DomainState(missing) error is not a *libvirt.Error with site and domain: %#v", err)
	}
	if err := s.Destroy(ctx, "app-01"); !errors.Is(err, engine.ErrInvalidOperation) {
		t.Errorf("Destroy(shut off) = %v, want ErrInvalidOperation", err)
	}

	// Autostart.
	if err := s.SetAutostart(ctx, "db-01", true); err != nil {
		t.Fatal(err)
	}
	if info := d.Virsh(t, "dominfo", "db-01"); !regexpMatch(`Autostart:\s+enable`, info) {
		t.Errorf("after SetAutostart(true), virsh dominfo says:\n%s", info)
	}
	if err := s.SetAutostart(ctx, "db-01", false); err != nil {
		t.Fatal(err)
	}

	// Snapshots: revert brings back the state at creation.
	if err := s.Snapshot(ctx, "db-01", engine.SnapshotCreate, "before-drill"); err != nil {
		t.Fatalf("snapshot create: %v", err)
	}
	if got := d.Virsh(t, "snapshot-list", "db-01", "--name"); got != "before-drill" {
		t.Errorf("virsh snapshot-list = %q", got)
	}
	if err := s.Destroy(ctx, "db-01"); err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(ctx, "db-01", engine.SnapshotRevert, "before-drill"); err != nil {
		t.Fatalf("snapshot revert: %v", err)
	}
	wantState(t, s, "db-01", engine.StateRunning)
	if err := s.Snapshot(ctx, "db-01", engine.SnapshotRevert, "no-such"); !errors.Is(err, engine.ErrDomainNotFound) {
		t.Errorf("revert to a missing snapshot = %v, want ErrDomainNotFound", err)
	}
	if err := s.Snapshot(ctx, "db-01", engine.SnapshotDelete, "before-drill"); err != nil {
		t.Fatalf("snapshot delete: %v", err)
	}
	if got := d.Virsh(t, "snapshot-list", "db-01", "--name"); got != "" {
		t.Errorf("after delete, virsh snapshot-list = %q", got)
	}

	// The test driver has no guest agent: a clear error, no sentinel.
	if err := s.AgentPing(ctx, "db-01"); err == nil || !strings.Contains(err.Error(), "ping the guest agent") {
		t.Errorf("AgentPing on the test driver = %v, want an error saying what failed", err)
	}

	// Definitions: read, refuse to undefine a running domain, undefine,
	// define again from the saved XML (same UUID).
	x, err := s.DomainXML(ctx, "db-01")
	if err != nil {
		t.Fatal(err)
	}
	uuid := d.Virsh(t, "domuuid", "db-01")
	if !strings.Contains(x, "<name>db-01</name>") || !strings.Contains(x, uuid) || strings.Contains(x, "id=") {
		t.Errorf("DomainXML is not the inactive definition of db-01 (uuid %s):\n%s", uuid, x)
	}
	if err := s.Undefine(ctx, "db-01"); !errors.Is(err, engine.ErrInvalidOperation) {
		t.Errorf("Undefine(running) = %v, want ErrInvalidOperation", err)
	}
	if err := s.Destroy(ctx, "db-01"); err != nil {
		t.Fatal(err)
	}
	if err := s.Undefine(ctx, "db-01"); err != nil {
		t.Fatalf("Undefine: %v", err)
	}
	if _, err := s.DomainState(ctx, "db-01"); !errors.Is(err, engine.ErrDomainNotFound) {
		t.Errorf("after Undefine, DomainState = %v", err)
	}
	name, err := s.Define(ctx, x)
	if err != nil || name != "db-01" {
		t.Fatalf("Define = %q, %v", name, err)
	}
	if got := d.Virsh(t, "domuuid", "db-01"); got != uuid {
		t.Errorf("redefined db-01 has UUID %s, want %s", got, uuid)
	}
	if _, err := s.Define(ctx, "<domain type='test'><memory>1</memory></domain>"); !errors.Is(err, engine.ErrInvalidOperation) {
		t.Errorf("Define(no name) = %v", err)
	}
}

// TestCopyDefinition copies a definition from one site to the other with
// PortableXML, as a failover that registers a VM at the secondary would.
func TestCopyDefinition(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	p := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	sec := libvirtlab.StartTestDaemon(t, dir, "secondary", nil)
	p.Define(t, "running", "app-01")
	ps := openSite(t, "primary", testOpts, p.URI)
	ss := openSite(t, "secondary", testOpts, sec.URI)
	ctx := ctxFor(t, 30*time.Second)
	x, err := ps.DomainXML(ctx, "app-01")
	if err != nil {
		t.Fatal(err)
	}
	px, err := PortableXML(x)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Define(ctx, px); err != nil {
		t.Fatalf("Define at the secondary: %v\n%s", err, px)
	}
	if a, b := p.Virsh(t, "domuuid", "app-01"), sec.Virsh(t, "domuuid", "app-01"); a != b {
		t.Errorf("the copy has UUID %s, the original %s", b, a)
	}
	wantState(t, ss, "app-01", engine.StateShutoff)
}

// TestWatch sees lifecycle events as they happen, including those caused by
// another client.
func TestWatch(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	d := libvirtlab.StartTestDaemon(t, dir, "primary", nil)
	d.Define(t, "shutoff", "web-01")
	s := openSite(t, "primary", testOpts, d.URI)
	ctx, cancel := context.WithCancel(ctxFor(t, 30*time.Second))
	ch, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func(want engine.Domain) {
		t.Helper()
		select {
		case got := <-ch:
			if got.Name != want.Name || got.State != want.State || got.Host != d.URI {
				t.Fatalf("event %+v, want %v at %s", got, want, d.URI)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event after 5s, want %v", want)
		}
	}
	if err := s.Start(ctx, "web-01"); err != nil {
		t.Fatal(err)
	}
	next(engine.Domain{Name: "web-01", State: engine.StateRunning})
	d.Virsh(t, "suspend", "web-01") // another client
	next(engine.Domain{Name: "web-01", State: engine.StatePaused})
	d.Virsh(t, "destroy", "web-01")
	next(engine.Domain{Name: "web-01", State: engine.StateShutoff})
	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch channel is not closed after its context ended")
	}
}

// TestSeveralHosts serves one site from two daemons: each domain is found on
// the host that has it.
func TestSeveralHosts(t *testing.T) {
	t.Parallel()
	dir := libvirtlab.TempDir(t)
	a := libvirtlab.StartTestDaemon(t, dir, "kvm1", nil)
	b := libvirtlab.StartTestDaemon(t, dir, "kvm2", nil)
	a.Define(t, "running", "db-01")
	b.Define(t, "running", "app-01")
	b.Define(t, "shutoff", "web-01")
	s := openSite(t, "primary", testOpts, a.URI, b.URI)
	ctx := ctxFor(t, 30*time.Second)

	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Hosts) != 2 || info.Hosts[0] != a.URI || info.Hosts[1] != b.URI {
		t.Errorf("Info.Hosts = %v", info.Hosts)
	}
	doms, err := s.ListDomains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range doms {
		names = append(names, d.Name+"="+string(d.State))
	}
	// Both daemons have the test driver's own "test" domain: listed once.
	if got := strings.Join(names, " "); got != "app-01=running db-01=running test=running web-01=shutoff" {
		t.Errorf("ListDomains = %s", got)
	}
	if err := s.Destroy(ctx, "db-01"); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx, "web-01"); err != nil {
		t.Fatal(err)
	}
	if a.State(t, "db-01") != "shut off" || b.State(t, "web-01") != "running" {
		t.Errorf("operations went to the wrong host: kvm1 db-01 %s, kvm2 web-01 %s", a.State(t, "db-01"), b.State(t, "web-01"))
	}
	// A domain that moved to the other host is found there.
	x := a.Virsh(t, "dumpxml", "--inactive", "db-01")
	a.Virsh(t, "undefine", "db-01")
	if _, err := s.Define(ctx, x); err != nil {
		t.Fatal(err)
	}
	// Define went to the first host again (the domain is nowhere now)...
	a.Virsh(t, "undefine", "db-01")
	f := dir + "/db-01.xml"
	writeFile(t, f, x)
	b.Virsh(t, "define", f)
	// ...and after it moved to kvm2, the site finds it there.
	wantState(t, s, "db-01", engine.StateShutoff)
	if err := s.Start(ctx, "db-01"); err != nil {
		t.Fatal(err)
	}
	if got := b.State(t, "db-01"); got != "running" {
		t.Errorf("db-01 on kvm2 is %s", got)
	}
	_, err = s.DomainState(ctx, "nowhere")
	if !errors.Is(err, engine.ErrDomainNotFound) || !strings.Contains(err.Error(), "any of the site's 2 hosts") {
		t.Errorf("DomainState(nowhere) = %v", err)
	}
}
