// Package sim is an in-memory two-site lab: domains with states that change
// with realistic timings, deterministic for a seed, with faults to inject.
// It serves sim://NAME site URIs for the demo and for fast engine tests.
package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

// Timings, in simulated time; the lab's speed divides them.
var (
	ShutdownTime = [2]time.Duration{2 * time.Second, 6 * time.Second}
	StartTime    = [2]time.Duration{1 * time.Second, 3 * time.Second}
	DestroyTime  = [2]time.Duration{1 * time.Second, 2 * time.Second}
)

// Lab is a set of simulated sites.
type Lab struct {
	mu    sync.Mutex
	seed  int64
	speed float64
	sites map[string]*Site
	// statePath, when set, is where every change is saved (see Persist):
	// log is its change log, logged the lines in it, compactAt when it is
	// folded into a new snapshot.
	statePath         string
	log               *os.File
	logged, compactAt int
}

// NewLab returns an empty lab. speed > 1 makes everything faster.
func NewLab(seed int64, speed float64) *Lab {
	if speed <= 0 {
		speed = 1
	}
	return &Lab{seed: seed, speed: speed, sites: map[string]*Site{}}
}

// Speed is the factor the lab's timings are divided by.
func (l *Lab) Speed() float64 { return l.speed }

// SiteName returns NAME for a sim://NAME URI.
func SiteName(uri string) (string, bool) {
	name, ok := strings.CutPrefix(uri, "sim://")
	name = strings.Trim(name, "/")
	return name, ok && name != ""
}

// Site returns the simulated site called name, creating it when needed.
func (l *Lab) Site(name string) *Site {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sites[name]
	if s == nil {
		s = &Site{lab: l, name: name, domains: map[string]*domain{}}
		l.sites[name] = s
	}
	return s
}

// Hypervisor returns the site served by a sim:// URI.
func (l *Lab) Hypervisor(uri string) (engine.Hypervisor, error) {
	name, ok := SiteName(uri)
	if !ok {
		return nil, fmt.Errorf("%q is not a simulated site (sim://NAME)", uri)
	}
	return l.Site(name), nil
}

// AddDomain defines a domain at a site in the given state.
func (l *Lab) AddDomain(site, name string, state engine.DomainState) {
	s := l.Site(site)
	l.mu.Lock()
	defer l.mu.Unlock()
	s.domains[name] = &domain{name: name, state: state, snapshots: map[string]engine.DomainState{}}
}

// Populate defines every domain the runbook names at every simulated site of
// the runbook, in the state the runbook first expects it to be in there
// (its first step's runbooks.Precondition: a check's state, shut off
// before a start, running before a shutdown).
// Domains the runbook never looks at first are running at a site called
// "primary" and shut off elsewhere. uris maps site names to the URIs in use
// (after any override); only sim:// ones are populated.
func (l *Lab) Populate(rb *runbooks.Runbook, uris map[string]string) {
	expect := map[string]engine.DomainState{}
	for _, st := range rb.Steps {
		for i, t := range st.Targets() {
			want := engine.DomainState(st.Precondition(i).Before)
			if want == "" {
				continue
			}
			for _, d := range t.Domains {
				if _, seen := expect[t.Site+"/"+d]; !seen {
					expect[t.Site+"/"+d] = want
				}
			}
		}
	}
	var all []string
	seen := map[string]bool{}
	for _, doms := range rb.Domains() {
		for _, d := range doms {
			if !seen[d] {
				seen[d] = true
				all = append(all, d)
			}
		}
	}
	for _, site := range rb.Sites {
		uri := site.URI
		if u := uris[site.Name]; u != "" {
			uri = u
		}
		simName, ok := SiteName(uri)
		if !ok {
			continue
		}
		for _, d := range all {
			state, ok := expect[site.Name+"/"+d]
			if !ok {
				state = engine.StateShutoff
				if site.Name == "primary" {
					state = engine.StateRunning
				}
			}
			l.AddDomain(simName, d, state)
		}
	}
	l.populateVolumes(rb, uris)
}

// duration picks a deterministic duration in [lo, hi] for one operation,
// scaled by the lab's speed.
func (l *Lab) duration(r [2]time.Duration, key string) time.Duration {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", l.seed, key)
	span := int64(r[1] - r[0])
	d := r[0]
	if span > 0 {
		d += time.Duration(h.Sum64() % uint64(span))
	}
	return time.Duration(float64(d) / l.speed)
}

// Site is one simulated site; it implements engine.Hypervisor.
type Site struct {
	lab         *Lab
	name        string
	domains     map[string]*domain
	unreachable bool
	watchers    []chan engine.Domain
	// copies are other hosts' definitions of a domain (AddCopy).
	copies map[string][]engine.Placement
	vol    volumeState // volume.go
}

type domain struct {
	name           string
	state          engine.DomainState
	next           engine.DomainState
	at             time.Time // when next takes effect
	xml            string
	autostart      bool
	snapshots      map[string]engine.DomainState
	ignoreShutdown bool
	failStart      string
	failStartOnce  bool
	noAgent        bool
	ops            int
}

// settle applies a pending transition whose time has come.
func (s *Site) settle(d *domain, now time.Time) {
	if d.next != "" && !now.Before(d.at) {
		s.set(d, d.next)
	}
}

// set changes a domain's state and tells the watchers. Callers hold lab.mu.
func (s *Site) set(d *domain, to engine.DomainState) {
	d.next = ""
	if d.state == to {
		return
	}
	d.state = to
	_ = s.lab.save(s, d.name) // best effort: the simulation goes on if the file cannot be written
	for _, w := range s.watchers {
		select {
		case w <- engine.Domain{Name: d.name, State: to}:
		default: // a slow watcher misses a change rather than blocking the lab
		}
	}
}

var _ engine.Hypervisor = (*Site)(nil)

func (s *Site) lookup(name string) (*domain, error) {
	if s.unreachable {
		return nil, fmt.Errorf("%w: sim://%s does not answer", engine.ErrUnreachable, s.name)
	}
	d := s.domains[name]
	if d == nil {
		return nil, fmt.Errorf("%w: no domain named %q at sim://%s", engine.ErrDomainNotFound, name, s.name)
	}
	s.settle(d, time.Now())
	d.ops++
	return d, nil
}

// ListDomains implements engine.Hypervisor.
func (s *Site) ListDomains(ctx context.Context) ([]engine.Domain, error) {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	if s.unreachable {
		return nil, fmt.Errorf("%w: sim://%s does not answer", engine.ErrUnreachable, s.name)
	}
	out := make([]engine.Domain, 0, len(s.domains))
	now := time.Now()
	for _, d := range s.domains {
		s.settle(d, now)
		out = append(out, s.listed(d))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DomainState implements engine.Hypervisor.
func (s *Site) DomainState(ctx context.Context, name string) (engine.DomainState, error) {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	d, err := s.lookup(name)
	if err != nil {
		return "", err
	}
	return d.state, nil
}

// Shutdown implements engine.Hypervisor: the guest takes a few seconds to
// shut down, or ignores the request when told to.
func (s *Site) Shutdown(ctx context.Context, name string) error {
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	d, err := s.lookup(name)
	if err != nil {
		return err
	}
	if d.state != engine.StateRunning && d.state != engine.StateShuttingDown {
		return fmt.Errorf("%w: domain %s is %s", engine.ErrInvalidOperation, name, d.state)
	}
	if d.ignoreShutdown || d.next != "" {
		return nil
	}
	s.set(d, engine.StateShuttingDown)
	wait := s.lab.duration(ShutdownTime, fmt.Sprintf("%s/%s/shutdown/%d", s.name, name, d.ops))
	d.next, d.at = engine.StateShutoff, time.Now().Add(wait)
	_ = s.lab.save(s, name)
	time.AfterFunc(wait, func() {
		s.lab.mu.Lock()
		defer s.lab.mu.Unlock()
		s.settle(d, time.Now())
	})
	return nil
}

// Start implements engine.Hypervisor: it returns once the domain runs, like
// libvirt's DomainCreate.
func (s *Site) Start(ctx context.Context, name string) error {
	return s.blockingChange(ctx, name, "start", StartTime, func(d *domain) error {
		if d.state != engine.StateShutoff && d.state != engine.StateCrashed {
			return fmt.Errorf("%w: domain %s is already %s", engine.ErrInvalidOperation, name, d.state)
		}
		if d.failStart != "" {
			err := fmt.Errorf("internal error: %s", d.failStart)
			if d.failStartOnce {
				d.failStart = ""
			}
			return err
		}
		return nil
	}, engine.StateRunning)
}

// Destroy implements engine.Hypervisor.
func (s *Site) Destroy(ctx context.Context, name string) error {
	return s.blockingChange(ctx, name, "destroy", DestroyTime, func(d *domain) error {
		if d.state == engine.StateShutoff {
			return fmt.Errorf("%w: domain %s is not running", engine.ErrInvalidOperation, name)
		}
		return nil
	}, engine.StateShutoff)
}

func (s *Site) blockingChange(ctx context.Context, name, verb string, r [2]time.Duration, precheck func(*domain) error, to engine.DomainState) error {
	s.lab.mu.Lock()
	d, err := s.lookup(name)
	if err == nil {
		err = precheck(d)
	}
	var wait time.Duration
	if err == nil {
		wait = s.lab.duration(r, fmt.Sprintf("%s/%s/%s/%d", s.name, name, verb, d.ops))
	}
	s.lab.mu.Unlock()
	if err != nil {
		return err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	s.lab.mu.Lock()
	defer s.lab.mu.Unlock()
	s.set(d, to)
	return nil
}

// Close implements engine.Hypervisor.
func (s *Site) Close() error { return nil }
