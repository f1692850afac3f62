package engine_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
)

// hostsLab is a site of several hosts, each domain defined on one of them,
// that records how many starts and shutdowns run at once on each host. A
// call blocks until the number running at once has reached fill once (or a
// safety delay has passed): so every action the engine allows to overlap
// does overlap, and the peaks are what the engine allows, not what the
// scheduler of the moment happened to do.
type hostsLab struct {
	engine.Hypervisor // the simulated site, for everything not overridden

	hosts []string
	home  map[string]string // domain → host URI
	fill  int

	mu      sync.Mutex
	state   map[string]engine.DomainState
	now     map[string]int // host → actions running
	peak    map[string]int
	total   int
	peakAll int
	order   []string // domains, in the order their action began
	filled  chan struct{}
	latched bool
}

func newHostsLab(t *testing.T, base engine.Hypervisor, hosts []string, doms []string, initial engine.DomainState, fill int) *hostsLab {
	t.Helper()
	l := &hostsLab{Hypervisor: base, hosts: hosts, home: map[string]string{}, fill: fill,
		state: map[string]engine.DomainState{}, now: map[string]int{}, peak: map[string]int{}, filled: make(chan struct{})}
	for i, d := range doms {
		l.home[d] = hosts[i%len(hosts)]
		l.state[d] = initial
	}
	return l
}

func (l *hostsLab) act(name string, to engine.DomainState) error {
	h, ok := l.home[name]
	if !ok {
		return fmt.Errorf("%w: %s", engine.ErrDomainNotFound, name)
	}
	l.mu.Lock()
	l.order = append(l.order, name)
	l.now[h]++
	l.total++
	l.peak[h] = max(l.peak[h], l.now[h])
	l.peakAll = max(l.peakAll, l.total)
	if l.total >= l.fill && !l.latched {
		l.latched = true
		close(l.filled)
	}
	l.mu.Unlock()
	select {
	case <-l.filled:
	case <-time.After(5 * time.Second): // fewer overlap than fill: the peaks say so
	}
	l.mu.Lock()
	l.now[h]--
	l.total--
	l.state[name] = to
	l.mu.Unlock()
	return nil
}

func (l *hostsLab) Start(_ context.Context, name string) error {
	return l.act(name, engine.StateRunning)
}

func (l *hostsLab) Shutdown(_ context.Context, name string) error {
	return l.act(name, engine.StateShutoff)
}

func (l *hostsLab) DomainState(_ context.Context, name string) (engine.DomainState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.state[name]
	if !ok {
		return "", fmt.Errorf("%w: %s", engine.ErrDomainNotFound, name)
	}
	return s, nil
}

func (l *hostsLab) ListDomains(_ context.Context) ([]engine.Domain, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []engine.Domain
	for d, h := range l.home {
		out = append(out, engine.Domain{Name: d, State: l.state[d], Host: h})
	}
	slices.SortFunc(out, func(a, b engine.Domain) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (l *hostsLab) Locate(_ context.Context, name string) ([]engine.Placement, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.home[name]
	if !ok {
		return nil, nil
	}
	return []engine.Placement{{Host: h, State: l.state[name]}}, nil
}

func (l *hostsLab) peaks() (map[string]int, int, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return copyCounts(l.peak), l.peakAll, slices.Clone(l.order)
}

func copyCounts(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestMaxPerHostBoundsEachHost: three hosts, 30 domains, max_parallel 16.
// With max_per_host 2, never more than 2 actions at once on a host, and
// more than 2 at once on the site (the hosts work side by side); without
// it, the step's 16 land on the hosts as they come. The same for a
// shutdown, for start's domains and for a start group.
func TestMaxPerHostBoundsEachHost(t *testing.T) {
	t.Parallel()
	hosts := []string{"qemu+ssh://kvm1/system", "qemu+ssh://kvm2/system", "qemu+ssh://kvm3/system"}
	var doms []string
	for i := range 30 {
		doms = append(doms, fmt.Sprintf("vm-%02d", i))
	}
	list := strings.Join(doms, ", ")
	steps := map[string]struct {
		step    string
		initial engine.DomainState
	}{
		"shutdown":      {"shutdown: {site: primary, max_parallel: 16, domains: [" + list + "]}", engine.StateRunning},
		"start domains": {"start: {site: primary, max_parallel: 16, domains: [" + list + "]}", engine.StateShutoff},
		"start a group": {"start: {site: primary, max_parallel: 16, groups: [[" + list + "]]}", engine.StateShutoff},
	}
	for name, c := range steps {
		for _, perHost := range []int{2, 0} {
			t.Run(fmt.Sprintf("%s, max_per_host %d", name, perHost), func(t *testing.T) {
				t.Parallel()
				capKey := ""
				fill := 16 // without a cap, the step's max_parallel
				if perHost > 0 {
					capKey = fmt.Sprintf(", max_per_host: %d", perHost)
					fill = perHost * len(hosts)
				}
				src := fmt.Sprintf("version: 1\nname: capped\nsites:\n  primary: {uris: [%s]%s}\n  secondary: {uri: sim://secondary}\nsteps:\n  - id: act\n    %s\n",
					strings.Join(hosts, ", "), capKey, c.step)
				rb := mustParse(t, "capped.yaml", src)
				simLab := sim.NewLab(1, speed)
				base, err := simLab.Hypervisor("sim://primary")
				if err != nil {
					t.Fatal(err)
				}
				second, err := simLab.Hypervisor("sim://secondary")
				if err != nil {
					t.Fatal(err)
				}
				lab := newHostsLab(t, base, hosts, doms, c.initial, fill)
				j := &memJournal{}
				eng, err := engine.New(rb, map[string]engine.Hypervisor{"primary": lab, "secondary": second}, j,
					engine.Options{RunID: 1, Operator: "alice", AutoApprove: true, TimeScale: speed, Poll: time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					for range eng.Events() {
					}
				}()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				if o, err := eng.Run(ctx); err != nil || o != engine.OutcomeSucceeded {
					t.Fatalf("run: %v %v; events %v", o, err, j.kinds())
				}
				peak, all, order := lab.peaks()
				if len(order) != len(doms) {
					t.Fatalf("%d actions, want %d: %v", len(order), len(doms), order)
				}
				if perHost > 0 {
					for _, h := range hosts {
						if peak[h] > perHost || peak[h] == 0 {
							t.Errorf("host %s: %d actions at once at most, want 1 to %d (all peaks %v)", h, peak[h], perHost, peak)
						}
					}
					if all <= perHost {
						t.Errorf("at most %d actions at once on the site: the hosts did not work side by side (want up to %d)", all, perHost*len(hosts))
					}
				} else if slices.Max(countValues(peak)) <= 2 || all < fill {
					t.Errorf("without max_per_host: peaks %v, %d at once on the site; want the step's %d", peak, all, fill)
				}
				// Every intent names the host the action went to.
				for _, ev := range j.find("action.intent") {
					in := ev.(*engine.ActionIntent)
					if in.URI != lab.home[in.Domain] {
						t.Errorf("intent for %s names host %q, want %q", in.Domain, in.URI, lab.home[in.Domain])
					}
				}
			})
		}
	}
}

func countValues(m map[string]int) []int {
	out := []int{0}
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestMaxPerHostKeepsOrderOneAtATime: with max_parallel 1 (and a cap),
// the domains are acted on one at a time in the order written.
func TestMaxPerHostKeepsOrderOneAtATime(t *testing.T) {
	t.Parallel()
	hosts := []string{"qemu+ssh://kvm1/system", "qemu+ssh://kvm2/system"}
	doms := []string{"db-02", "db-01", "app-03", "app-01", "web-09", "web-02"}
	for _, step := range []string{"shutdown: {site: primary, max_parallel: 1", "start: {site: primary, max_parallel: 1"} {
		initial := engine.StateRunning
		if strings.HasPrefix(step, "start") {
			initial = engine.StateShutoff
		}
		src := fmt.Sprintf("version: 1\nname: ordered\nsites:\n  primary: {uris: [%s], max_per_host: 2}\n  secondary: {uri: sim://secondary}\nsteps:\n  - id: act\n    %s, domains: [%s]}\n",
			strings.Join(hosts, ", "), step, strings.Join(doms, ", "))
		rb := mustParse(t, "ordered.yaml", src)
		simLab := sim.NewLab(1, speed)
		base, _ := simLab.Hypervisor("sim://primary")
		second, _ := simLab.Hypervisor("sim://secondary")
		lab := newHostsLab(t, base, hosts, doms, initial, 1)
		eng, err := engine.New(rb, map[string]engine.Hypervisor{"primary": lab, "secondary": second}, &memJournal{},
			engine.Options{RunID: 1, Operator: "alice", AutoApprove: true, TimeScale: speed, Poll: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range eng.Events() {
			}
		}()
		if o, err := eng.Run(context.Background()); err != nil || o != engine.OutcomeSucceeded {
			t.Fatalf("%s: run %v %v", step, o, err)
		}
		peak, all, order := lab.peaks()
		if !slices.Equal(order, doms) || all != 1 {
			t.Errorf("%s: order %v (want %v), %d at once (want 1; peaks %v)", step, order, doms, all, peak)
		}
	}
}
