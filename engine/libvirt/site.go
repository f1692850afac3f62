// Package libvirt is the engine's Hypervisor over real libvirt daemons,
// through github.com/digitalocean/go-libvirt: URIs exactly as virsh takes
// them (qemu+ssh:// through the system ssh), a deadline on every call that
// a hung daemon cannot defeat, reconnection with backoff, sites served by
// several hosts, and libvirt's errors mapped once to the engine's
// sentinels, each message naming site, URI and domain.
package libvirt

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/repli-dr/repli/engine"
)

// Options tune a site's connections. The zero value is ready to use.
type Options struct {
	// CallTimeout bounds a call whose context has no deadline (30s).
	CallTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before reconnecting to a
	// host that failed: it doubles from MinBackoff (200ms) after each
	// failure, up to MaxBackoff (5s).
	MinBackoff, MaxBackoff time.Duration
	// Env is the environment of the ssh processes of qemu+ssh:// hosts;
	// nil means this process's.
	Env []string

	// noHandleCache looks every domain up by name before each call, as
	// the driver did before it cached handles: for benchmarks.
	noHandleCache bool
}

func (o Options) withDefaults() Options {
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	return o
}

// Site is one site of a runbook, served by one or more libvirt hosts. It
// implements engine.Hypervisor and engine.Watcher; it is safe for
// concurrent use.
type Site struct {
	name  string
	hosts []*host
	opts  Options
	// stop ends the first connections made by Open; closed is closed by
	// Close.
	stop   context.CancelFunc
	closed chan struct{}
	once   sync.Once

	// beforeVerdict, when set (by tests), runs before the state is read
	// again after a lost answer.
	beforeVerdict func()

	// view is set on the one-host sites OnHost returns: they share the
	// site's connections, and closing them does nothing.
	view bool

	mu    sync.Mutex
	where map[string]*host // domain → the one host it was last found on
}

var (
	_ engine.Hypervisor = (*Site)(nil)
	_ engine.Watcher    = (*Site)(nil)
)

// Open prepares a site served by the hosts at uris (libvirt URIs, as virsh
// takes them) and starts connecting to every host. It waits for those
// first connections at most until ctx is done; a host that has not
// answered by then is tried again on first use, so that a site that is
// down (the very reason for a disaster recovery) never stops the console
// from opening. Only malformed or unsupported URIs are errors here.
func Open(ctx context.Context, site string, uris []string, opts Options) (*Site, error) {
	if len(uris) == 0 {
		return nil, fmt.Errorf("site %s: no libvirt URI", site)
	}
	s := &Site{name: site, opts: opts.withDefaults(), where: map[string]*host{}}
	for _, u := range uris {
		ep, err := parseURI(u, s.opts)
		if err != nil {
			return nil, fmt.Errorf("site %s: %w", site, err)
		}
		s.hosts = append(s.hosts, newHost(s, ep))
	}
	s.closed = make(chan struct{})
	life, stop := context.WithCancel(context.Background())
	s.stop = stop
	var wg sync.WaitGroup
	for _, h := range s.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(life, s.opts.CallTimeout)
			defer cancel()
			_ = h.do(cctx, func(*golibvirt.Libvirt) error { return nil })
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return s, nil
}

// Name is the site's name.
func (s *Site) Name() string { return s.name }

// Hosts lists the URIs of the site's hosts (passwords hidden).
func (s *Site) Hosts() []string {
	out := make([]string, len(s.hosts))
	for i, h := range s.hosts {
		out[i] = h.ep.display
	}
	return out
}

// Status is what is known of a site's reachability, without any I/O.
type Status struct {
	Site string `json:"site"`
	// State is reachable when every host answered last time, unreachable
	// when any did not.
	State Reachability `json:"state"`
	Hosts []HostStatus `json:"hosts"`
}

// Status says whether the site is reachable right now, as far as its
// connections know, for a UI to show; it never blocks on the network.
func (s *Site) Status() Status {
	st := Status{Site: s.name, State: Reachable}
	for _, h := range s.hosts {
		hs := h.status()
		st.Hosts = append(st.Hosts, hs)
		switch {
		case hs.State == Unreachable:
			st.State = Unreachable
		case hs.State == Unknown && st.State == Reachable:
			st.State = Unknown
		}
	}
	return st
}

// Ping is the cheap liveness check: one round trip to every host.
func (s *Site) Ping(ctx context.Context) error {
	return s.eachHost(ctx, func(ctx context.Context, h *host) error {
		return s.wrap(h, "", "", h.do(ctx, func(lv *golibvirt.Libvirt) error {
			_, err := lv.ConnectGetLibVersion()
			return err
		}))
	})
}

// Close implements engine.Hypervisor.
func (s *Site) Close() error {
	if s.view {
		return nil
	}
	s.once.Do(func() { close(s.closed) })
	s.stop()
	var wg sync.WaitGroup
	for _, h := range s.hosts {
		wg.Add(1)
		go func() { defer wg.Done(); h.close() }()
	}
	wg.Wait()
	return nil
}

// bound gives ctx the call timeout when it has no deadline of its own.
func (s *Site) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.opts.CallTimeout)
}

// eachHost runs fn on every host at once and returns the first error, in
// host order.
func (s *Site) eachHost(ctx context.Context, fn func(context.Context, *host) error) error {
	errs := make([]error, len(s.hosts))
	var wg sync.WaitGroup
	for i, h := range s.hosts {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn(ctx, h) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// wrap turns a go-libvirt error into an *Error naming site, URI and domain.
func (s *Site) wrap(h *host, domain, op string, err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		if e.Domain == "" && e.Op == "" {
			// The host's own error (unreachable): say what it interrupted.
			c := *e
			c.Domain, c.Op = domain, op
			return &c
		}
		return err
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Site: s.name, URI: h.ep.display, Domain: domain, Op: op, Kind: kindOf(err), Err: err}
}

func (s *Site) uriList() string { return strings.Join(s.Hosts(), ", ") }

// Info implements engine.Hypervisor: hostname, libvirt version, hypervisor
// type and version. For a site of several hosts, the hostnames are joined
// and the versions are those of the first host.
func (s *Site) Info(ctx context.Context) (engine.SiteInfo, error) {
	infos := make([]engine.SiteInfo, len(s.hosts))
	err := s.eachHost(ctx, func(ctx context.Context, h *host) error {
		i := &infos[indexOf(s.hosts, h)]
		return s.wrap(h, "", "read host information", h.do(ctx, func(lv *golibvirt.Libvirt) error {
			var err error
			var v info
			if v.hostname, err = lv.ConnectGetHostname(); err != nil {
				return err
			}
			if v.lib, err = lv.ConnectGetLibVersion(); err != nil {
				return err
			}
			if v.typ, err = lv.ConnectGetType(); err != nil {
				return err
			}
			if v.hv, err = lv.ConnectGetVersion(); err != nil {
				return err
			}
			*i = engine.SiteInfo{Hostname: v.hostname, LibvirtVersion: version(v.lib), Hypervisor: v.typ, HypervisorVersion: version(v.hv)}
			return nil
		}))
	})
	if err != nil {
		return engine.SiteInfo{}, err
	}
	out := infos[0]
	for _, i := range infos[1:] {
		out.Hostname += ", " + i.Hostname
	}
	out.Hosts = s.Hosts()
	return out, nil
}

type info struct {
	hostname string
	lib, hv  uint64
	typ      string
}

func indexOf(hosts []*host, h *host) int {
	for i, x := range hosts {
		if x == h {
			return i
		}
	}
	return -1
}

// version formats libvirt's major*1,000,000 + minor*1,000 + micro.
func version(v uint64) string {
	return fmt.Sprintf("%d.%d.%d", v/1000000, v%1000000/1000, v%1000)
}

// stateOf maps libvirt's domain states to the engine's.
func stateOf(st int32) engine.DomainState {
	switch golibvirt.DomainState(st) {
	case golibvirt.DomainRunning:
		return engine.StateRunning
	case golibvirt.DomainBlocked:
		return engine.StateBlocked
	case golibvirt.DomainPaused:
		return engine.StatePaused
	case golibvirt.DomainShutdown:
		return engine.StateShuttingDown
	case golibvirt.DomainShutoff:
		return engine.StateShutoff
	case golibvirt.DomainCrashed:
		return engine.StateCrashed
	case golibvirt.DomainPmsuspended:
		return engine.StateSuspended
	}
	return engine.StateNoState
}

// activity ranks states so that, when a domain is defined on several hosts
// of a site, the one where it runs wins.
func activity(s engine.DomainState) int {
	switch s {
	case engine.StateShutoff, engine.StateNoState:
		return 0
	case engine.StateCrashed:
		return 1
	}
	return 2
}

// ListDomains implements engine.Hypervisor. Each domain names the host it
// was listed on; one defined on several hosts of the site is listed once,
// at the host where it is most active, with every placement.
func (s *Site) ListDomains(ctx context.Context) ([]engine.Domain, error) {
	lists := make([][]engine.Domain, len(s.hosts))
	err := s.eachHost(ctx, func(ctx context.Context, h *host) error {
		i := indexOf(s.hosts, h)
		return s.wrap(h, "", "list domains", h.doLink(ctx, func(k *link) error {
			l, err := listDomains(k)
			for j := range l {
				l[j].Host = h.ep.display
			}
			lists[i] = l
			return err
		}))
	})
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	var out []engine.Domain
	var dups []int
	for hi, l := range lists {
		for _, d := range l {
			if j, dup := seen[d.Name]; dup {
				if len(out[j].Placements) == 0 {
					dups = append(dups, j)
					out[j].Placements = []engine.Placement{{}} // filled below
				}
				if activity(d.State) > activity(out[j].State) {
					d.Placements = out[j].Placements
					out[j] = d
				}
				continue
			}
			seen[d.Name] = len(out)
			out = append(out, d)
			if len(s.hosts) > 1 {
				s.remember(d.Name, s.hosts[hi])
			}
		}
	}
	// Rare, and what the readiness check needs to name the hosts: every
	// placement of a domain defined more than once, autostart included.
	for _, j := range dups {
		s.forget(out[j].Name)
		ps, err := s.Locate(ctx, out[j].Name)
		if err != nil {
			return nil, err
		}
		out[j].Placements = ps
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// listDomains reads every domain's state in one round trip when the daemon
// can, one per domain otherwise; it caches the handles it gets.
func listDomains(k *link) ([]engine.Domain, error) {
	lv := k.lv
	recs, err := lv.ConnectGetAllDomainStats(nil, uint32(golibvirt.DomainStatsState), 0)
	if err == nil {
		out := make([]engine.Domain, 0, len(recs))
		for _, r := range recs {
			st := engine.StateNoState
			for _, p := range r.Params {
				if v, ok := p.Value.I.(int32); ok && p.Field == "state.state" {
					st = stateOf(v)
				}
			}
			k.keep(r.Dom)
			out = append(out, engine.Domain{Name: r.Dom.Name, State: st})
		}
		return out, nil
	}
	if isTransport(err) {
		return nil, err
	}
	doms, _, err := lv.ConnectListAllDomains(1, golibvirt.ConnectListDomainsActive|golibvirt.ConnectListDomainsInactive)
	if err != nil {
		return nil, err
	}
	out := make([]engine.Domain, 0, len(doms))
	for _, d := range doms {
		st, _, err := lv.DomainGetState(d, 0)
		if err != nil {
			if golibvirt.IsNotFound(err) {
				continue // undefined meanwhile
			}
			return nil, err
		}
		k.keep(d)
		out = append(out, engine.Domain{Name: d.Name, State: stateOf(st)})
	}
	return out, nil
}

func (s *Site) remember(domain string, h *host) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.where[domain] = h
}

func (s *Site) forget(domain string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.where, domain)
}

// withDomain runs fn on the handle of the domain called name: the cached
// one, or a fresh one when the cached handle is stale (the domain was
// undefined and defined again: same name, another UUID). A stale handle
// fails with "no domain" before anything is done, so running fn again is
// safe.
func withDomain(k *link, name string, fn func(golibvirt.Domain) error) error {
	d, cached, err := k.domain(name)
	if err != nil {
		return err
	}
	err = fn(d)
	if cached && golibvirt.IsNotFound(err) {
		k.drop(name)
		if d, _, err = k.domain(name); err != nil {
			return err
		}
		err = fn(d)
	}
	if golibvirt.IsNotFound(err) {
		k.drop(name)
	}
	return err
}

// placementOn reads a domain's placement on one host; found is false when
// the host has no such domain.
func (s *Site) placementOn(ctx context.Context, h *host, domain string) (p engine.Placement, found bool, err error) {
	err = h.doLink(ctx, func(k *link) error {
		return withDomain(k, domain, func(d golibvirt.Domain) error {
			st, _, err := k.lv.DomainGetState(d, 0)
			if err != nil {
				return err
			}
			auto, err := k.lv.DomainGetAutostart(d)
			if err != nil {
				return err
			}
			p = engine.Placement{Host: h.ep.display, State: stateOf(st), Autostart: auto != 0}
			return nil
		})
	})
	if golibvirt.IsNotFound(err) {
		return engine.Placement{}, false, nil
	}
	if err != nil {
		return engine.Placement{}, false, s.wrap(h, domain, "locate", err)
	}
	return p, true, nil
}

// locate reads the domain's placement on every host at once. hosts[i] is
// the host of ps[i]; err joins the failures of the hosts that could not
// say.
func (s *Site) locate(ctx context.Context, domain string) (ps []engine.Placement, hosts []*host, err error) {
	found := make([]bool, len(s.hosts))
	all := make([]engine.Placement, len(s.hosts))
	errs := make([]error, len(s.hosts))
	var wg sync.WaitGroup
	for i, h := range s.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			all[i], found[i], errs[i] = s.placementOn(ctx, h, domain)
		}()
	}
	wg.Wait()
	for i := range s.hosts {
		if found[i] {
			ps = append(ps, all[i])
			hosts = append(hosts, s.hosts[i])
		}
	}
	return ps, hosts, errors.Join(errs...)
}

// Locate implements engine.Hypervisor: every host of the site where the
// domain is defined, with its state and autostart flag, read now.
func (s *Site) Locate(ctx context.Context, domain string) ([]engine.Placement, error) {
	ps, hosts, err := s.locate(ctx, domain)
	if len(s.hosts) > 1 {
		if err == nil && len(hosts) == 1 {
			s.remember(domain, hosts[0])
		} else {
			s.forget(domain)
		}
	}
	return ps, err
}

// OnHost implements engine.Hypervisor: the site restricted to the host
// whose URI is uri (as Hosts, Placement.Host or the configuration give
// it). It shares the site's connections; closing it does nothing.
func (s *Site) OnHost(uri string) (engine.Hypervisor, error) {
	for _, h := range s.hosts {
		if uri == h.ep.display || uri == h.ep.raw {
			if len(s.hosts) == 1 {
				return s, nil
			}
			return &Site{name: s.name, hosts: []*host{h}, opts: s.opts, stop: func() {}, closed: s.closed, view: true, where: map[string]*host{}}, nil
		}
	}
	return nil, &Error{Site: s.name, URI: s.uriList(), Op: "pin to host " + uri, Kind: engine.ErrUnknownHost,
		Err: fmt.Errorf("the site's hosts are %s", s.uriList())}
}

// hostOf returns the host that has domain: the only one, the one it was
// found alone on, or the one that has it now. A domain defined on several
// hosts is read where it is most active, but acting on it (write) is
// refused with an ErrSeveralHosts that names the hosts: pin the call with
// OnHost.
func (s *Site) hostOf(ctx context.Context, domain string, write bool) (*host, error) {
	if len(s.hosts) == 1 {
		return s.hosts[0], nil
	}
	s.mu.Lock()
	h := s.where[domain]
	s.mu.Unlock()
	if h != nil {
		return h, nil
	}
	ps, hosts, err := s.locate(ctx, domain)
	switch {
	case len(ps) == 1:
		if err == nil {
			s.remember(domain, hosts[0])
		}
		return hosts[0], nil
	case len(ps) > 1 && write:
		return nil, &Error{Site: s.name, URI: s.uriList(), Domain: domain, Err: engine.CheckPlacements(s.name, domain, ps)}
	case len(ps) > 1:
		best := 0
		for i := range ps {
			if activity(ps[i].State) > activity(ps[best].State) {
				best = i
			}
		}
		return hosts[best], nil
	case err != nil:
		// Not found elsewhere, and some host could not say: the domain may
		// well be there.
		return nil, err
	}
	return nil, &Error{Site: s.name, URI: s.uriList(), Domain: domain, Op: "look up", Kind: engine.ErrDomainNotFound,
		Err: fmt.Errorf("no domain named %q on any of the site's %d hosts", domain, len(s.hosts))}
}

// opSpec describes a domain operation: its verb for messages, whether it
// changes anything, and for those that do, how to tell from the domain's
// placement read afterwards whether it took effect (found is false when
// the domain is not defined there any more).
type opSpec struct {
	verb  string
	write bool
	done  func(p engine.Placement, found bool) bool
}

func read(verb string) opSpec { return opSpec{verb: verb} }

// domainOp runs fn on the domain, on its host, in one call under one
// deadline, with a cached domain handle. When the answer to a write is
// lost (deadline, dropped connection), the domain's state is read again
// before returning, and the error says which it was: done after all
// (engine.ErrDoneAfterAll), not done, or in doubt (engine.ErrInDoubt).
func (s *Site) domainOp(ctx context.Context, domain string, op opSpec, fn func(*golibvirt.Libvirt, golibvirt.Domain) error) error {
	budget := s.opts.CallTimeout
	if dl, ok := ctx.Deadline(); ok {
		budget = time.Until(dl)
	}
	for attempt := 0; ; attempt++ {
		h, err := s.hostOf(ctx, domain, op.write)
		if err != nil {
			return err
		}
		var notHere, sent atomic.Bool
		err = h.doLink(ctx, func(k *link) error {
			sent.Store(true)
			err := withDomain(k, domain, func(d golibvirt.Domain) error { return fn(k.lv, d) })
			notHere.Store(golibvirt.IsNotFound(err))
			return err
		})
		if notHere.Load() && len(s.hosts) > 1 && attempt == 0 {
			s.forget(domain) // moved to another host of the site: look again
			continue
		}
		err = s.wrap(h, domain, op.verb, err)
		if op.done != nil && sent.Load() && errors.Is(err, engine.ErrUnreachable) {
			return s.verdict(ctx, h, domain, op, min(budget, 5*time.Second), err)
		}
		return err
	}
}

// verdict re-reads the domain after the answer to op was lost (lost is the
// error that says so), within budget (the call's own, at most 5 s), and
// says whether op took effect.
func (s *Site) verdict(ctx context.Context, h *host, domain string, op opSpec, budget time.Duration, lost error) error {
	var e *Error
	if !errors.As(lost, &e) {
		return lost
	}
	if s.beforeVerdict != nil {
		s.beforeVerdict()
	}
	// The re-read runs even when ctx was cancelled: a quitting operator
	// is owed the truth about what was just sent.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(budget, 100*time.Millisecond))
	defer cancel()
	p, found, rerr := s.placementOn(rctx, h, domain)
	out := *e
	switch {
	case rerr != nil:
		out.Kind = engine.ErrUnreachable
		out.Err = fmt.Errorf("%w; the domain's state could not be read again afterwards: %w — it may or may not have happened; check with virsh domstate before acting again", e.Err, engine.ErrInDoubt)
	case op.done(p, found):
		out.Kind = engine.ErrDoneAfterAll
		out.Err = fmt.Errorf("%w; read again afterwards, the domain is %s: %w", e.Err, describe(p, found), engine.ErrDoneAfterAll)
	default:
		out.Err = fmt.Errorf("%w; read again afterwards, the domain is %s: not done", e.Err, describe(p, found))
	}
	return &out
}

func describe(p engine.Placement, found bool) string {
	if !found {
		return "no longer defined"
	}
	return string(p.State)
}

// DomainState implements engine.Hypervisor.
func (s *Site) DomainState(ctx context.Context, name string) (engine.DomainState, error) {
	var st int32
	err := s.domainOp(ctx, name, read("read state"), func(lv *golibvirt.Libvirt, d golibvirt.Domain) error {
		var err error
		st, _, err = lv.DomainGetState(d, 0)
		return err
	})
	if err != nil {
		return "", err
	}
	return stateOf(st), nil
}

// Start implements engine.Hypervisor: it returns once libvirt has started
// the domain. Starting an active domain is ErrInvalidOperation whatever
// code the driver gives it (the test driver says "internal error").
func (s *Site) Start(ctx context.Context, name string) error {
	return s.domainOp(ctx, name, opSpec{verb: "start", write: true, done: func(p engine.Placement, found bool) bool { return found && engine.Active(p.State) }}, func(lv *golibvirt.Libvirt, d golibvirt.Domain) error {
		err := lv.DomainCreate(d)
		if err == nil || kindOf(err) != nil {
			return err
		}
		if st, _, serr := lv.DomainGetState(d, 0); serr == nil && activity(stateOf(st)) > 1 {
			return fmt.Errorf("%w: %w", engine.ErrInvalidOperation, err)
		}
		return err
	})
}

// Shutdown implements engine.Hypervisor: it asks the guest to shut down
// (ACPI) and returns at once. The guest may ignore it; the caller waits for
// shut off, libvirt's transient "in shutdown" is not off.
func (s *Site) Shutdown(ctx context.Context, name string) error {
	return s.domainOp(ctx, name, opSpec{verb: "request guest shutdown", write: true, done: func(p engine.Placement, found bool) bool {
		return found && (p.State == engine.StateShuttingDown || p.State == engine.StateShutoff)
	}}, func(lv *golibvirt.Libvirt, d golibvirt.Domain) error {
		return lv.DomainShutdown(d)
	})
}

// Destroy implements engine.Hypervisor.
func (s *Site) Destroy(ctx context.Context, name string) error {
	return s.domainOp(ctx, name, opSpec{verb: "force off", write: true, done: func(p engine.Placement, found bool) bool { return !found || !engine.Active(p.State) }}, func(lv *golibvirt.Libvirt, d golibvirt.Domain) error {
		return lv.DomainDestroy(d)
	})
}

// Suspend implements engine.Hypervisor.
func (s *Site) Suspend(ctx context.Context, name string) error {
	return s.domainOp(ctx, name, opSpec{verb: "suspend", write: true, done: func(p engine.Placement, found bool) bool { return found && p.State == engine.StatePaused }}, func(lv *golibvirt.Libvirt, d golibvirt.Domain) error {
		return lv.DomainSuspend(d)
	})
}

// Resume implements engine.Hypervisor.
func (s *Site) Resume(ctx context.Context, name string) error {
	return s.domainOp(ctx, name, opSpec{verb: "resume", write: true, done: func(p engine.Placement, found bool) bool {
		return found && engine.Active(p.State) && p.State != engine.StatePaused
	}}, func(lv *golibvirt.Libvirt, d golibvirt.Domain) error {
		return lv.DomainResume(d)
	})
}

// DomainXML implements engine.Hypervisor: the persistent (inactive)
// definition. PortableXML prepares it for the other site.
func (s *Site) DomainXML(ctx context.Context, name string) (string, error) {
	var out string
	err := s.domainOp(ctx, name, read("read definition"), func(lv *golibvirt.Libvirt, d golibvirt.Domain) error {
		var err error
		out, err = lv.DomainGetXMLDesc(d, golibvirt.DomainXMLInactive)
		return err
	})
	return out, err
}

// Define implements engine.Hypervisor. On a site of several hosts, a domain
// already defined on one host is redefined there; a new one goes to the
// first host that answers.
func (s *Site) Define(ctx context.Context, domXML string) (string, error) {
	var v struct {
		Name string `xml:"name"`
	}
	if err := xml.Unmarshal([]byte(domXML), &v); err != nil || v.Name == "" {
		return "", &Error{Site: s.name, URI: s.uriList(), Op: "define", Kind: engine.ErrInvalidOperation, Err: errors.New("the domain XML has no <name>")}
	}
	candidates := s.hosts
	if len(s.hosts) > 1 {
		if h, err := s.hostOf(ctx, v.Name, true); err == nil {
			candidates = []*host{h}
		} else if !errors.Is(err, engine.ErrDomainNotFound) {
			return "", err
		}
	}
	var err error
	for _, h := range candidates {
		var name string
		err = h.do(ctx, func(lv *golibvirt.Libvirt) error {
			d, err := lv.DomainDefineXML(domXML)
			name = d.Name
			return err
		})
		if err == nil {
			if len(s.hosts) > 1 {
				s.remember(name, h)
			}
			return name, nil
		}
		err = s.wrap(h, v.Name, "define", err)
		if !errors.Is(err, engine.ErrUnreachable) {
			break
		}
	}
	return "", err
}

// undefineFlags are tried in order: drop snapshot and checkpoint metadata
// (the disks stay), and keep NVRAM and TPM state, which belong with the
// replicated disks, not with the definition. Older daemons and the test
// driver refuse flags they do not know.
var undefineFlags = []golibvirt.DomainUndefineFlagsValues{
	golibvirt.DomainUndefineSnapshotsMetadata | golibvirt.DomainUndefineCheckpointsMetadata | golibvirt.DomainUndefineKeepNvram | golibvirt.DomainUndefineKeepTpm,
	golibvirt.DomainUndefineSnapshotsMetadata | golibvirt.DomainUndefineKeepNvram,
	golibvirt.DomainUndefineSnapshotsMetadata,
}

// Undefine implements engine.Hypervisor: only a shut off domain is
// undefined.
func (s *Site) Undefine(ctx context.Context, name string) error {
	err := s.domainOp(ctx, name, opSpec{verb: "undefine", write: true, done: func(_ engine.Placement, found bool) bool { return !found }}, func(lv *golibvirt.Libvirt, d golibvirt.Domain) error {
		st, _, err := lv.DomainGetState(d, 0)
		if err != nil {
			return err
		}
		if state := stateOf(st); state != engine.StateShutoff {
			return fmt.Errorf("%w: it is %s; stop it before undefining it", engine.ErrInvalidOperation, state)
		}
		for _, f := range undefineFlags {
			err = lv.DomainUndefineFlags(d, f)
			if !unsupportedFlags(err) {
				break
			}
		}
		return err
	})
	if err == nil {
		s.forget(name)
	}
	return err
}

func unsupportedFlags(err error) bool {
	var le golibvirt.Error
	return errors.As(err, &le) && golibvirt.ErrorNumber(le.Code) == golibvirt.ErrInvalidArg && strings.Contains(le.Message, "unsupported flags")
}

// Snapshot implements engine.Hypervisor.
func (s *Site) Snapshot(ctx context.Context, name string, op engine.SnapshotOp, snap string) error {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(snap)); err != nil {
		return err
	}
	verb := string(op) + " snapshot " + snap
	return s.domainOp(ctx, name, opSpec{verb: verb, write: true}, func(lv *golibvirt.Libvirt, d golibvirt.Domain) error {
		switch op {
		case engine.SnapshotCreate:
			_, err := lv.DomainSnapshotCreateXML(d, "<domainsnapshot><name>"+b.String()+"</name></domainsnapshot>", 0)
			return err
		case engine.SnapshotRevert, engine.SnapshotDelete:
			sn, err := lv.DomainSnapshotLookupByName(d, snap, 0)
			if err != nil {
				return err
			}
			if op == engine.SnapshotRevert {
				return lv.DomainRevertToSnapshot(sn, 0)
			}
			return lv.DomainSnapshotDelete(sn, 0)
		}
		return fmt.Errorf("unknown snapshot operation %q", op)
	})
}

// SetAutostart implements engine.Hypervisor.
func (s *Site) SetAutostart(ctx context.Context, name string, on bool) error {
	v := int32(0)
	if on {
		v = 1
	}
	return s.domainOp(ctx, name, opSpec{verb: "set autostart", write: true, done: func(p engine.Placement, found bool) bool { return found && p.Autostart == on }}, func(lv *golibvirt.Libvirt, d golibvirt.Domain) error {
		return lv.DomainSetAutostart(d, v)
	})
}

// agentTimeout is how long libvirt waits for the guest agent, in seconds:
// 5, or less when the call's deadline is nearer.
func agentTimeout(ctx context.Context) int32 {
	t := int32(5)
	if dl, ok := ctx.Deadline(); ok {
		if left := int32(time.Until(dl)/time.Second) - 1; left < t {
			t = max(left, 1)
		}
	}
	return t
}

// AgentPing implements engine.Hypervisor with the QEMU guest agent's
// guest-ping. A guest with no agent channel is engine.ErrNoAgent, with
// libvirt's own words ("QEMU guest agent is not configured"): libvirt
// answers that at once, and waiting will not change it. An agent that is
// configured but not (yet) connected is an ordinary error: it may come.
func (s *Site) AgentPing(ctx context.Context, name string) error {
	err := s.domainOp(ctx, name, read("ping the guest agent"), func(lv *golibvirt.Libvirt, d golibvirt.Domain) error {
		_, err := lv.QEMUDomainAgentCommand(d, `{"execute":"guest-ping"}`, agentTimeout(ctx), 0)
		return err
	})
	var e *Error
	var le golibvirt.Error
	if errors.As(err, &e) && e.Kind == nil && errors.As(err, &le) && golibvirt.ErrorNumber(le.Code) == golibvirt.ErrArgumentUnsupported {
		e.Kind = engine.ErrNoAgent
	}
	return err
}
