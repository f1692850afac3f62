package engine

import (
	"context"
	"errors"
	"sync"
)

// A site's max_per_host bounds the actions on domains that run at once on
// any one of its hosts: a step's max_parallel says how much of the step
// runs at once, max_per_host keeps 16 boots from landing on one hypervisor
// when the step spans several. It is enforced in two places:
//
//   - actDetail takes a slot on the action's host (the host the intent
//     records) before the intent is written, and gives it back when the
//     action is over. That is the bound: it holds whatever runs the action.
//   - spread, which runs a step's domains in parallel, predicts each
//     domain's host and launches the earliest domain whose host has a free
//     slot, so that a domain waiting for its host does not hold one of the
//     step's max_parallel places while domains of idle hosts wait behind it.
//
// A prediction that turns out wrong (a domain moved between the listing and
// the action) costs only a wait in actDetail, never the bound.

// hostKey names one host of one site.
type hostKey struct{ site, host string }

// hostSlots are the slots of the hosts of sites with max_per_host.
type hostSlots struct {
	mu    sync.Mutex
	slots map[hostKey]chan struct{}
}

func (h *hostSlots) of(k hostKey, n int) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.slots == nil {
		h.slots = map[hostKey]chan struct{}{}
	}
	c := h.slots[k]
	if c == nil {
		c = make(chan struct{}, n)
		h.slots[k] = c
	}
	return c
}

// heldHost marks, in a context, the host slot its action holds: an action
// run inside it on the same host (nested) must not wait for a second one.
type heldHost struct{}

// perHost is a site's max_per_host, 0 when it has none.
func (e *Engine) perHost(site string) int {
	if s := e.rb.Site(site); s != nil {
		return s.MaxPerHost
	}
	return 0
}

// holdHost takes a slot on host for an action on a domain of site, waiting
// while the host has max_per_host actions running; release gives it back.
// The context returned says the slot is held.
func (e *Engine) holdHost(ctx context.Context, site, host, domain string) (context.Context, func(), error) {
	n := e.perHost(site)
	k := hostKey{site, host}
	if n <= 0 || domain == "" {
		return ctx, func() {}, nil
	}
	if held, _ := ctx.Value(heldHost{}).(hostKey); held == k {
		return ctx, func() {}, nil
	}
	slots := e.hosts.of(k, n)
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return ctx, nil, ctx.Err()
	}
	var once sync.Once
	return context.WithValue(ctx, heldHost{}, k), func() { once.Do(func() { <-slots }) }, nil
}

// predictHosts says, for a step about to act on doms at site in parallel
// under max_per_host, the host each domain is expected on: the site's URI
// for a site of one host, else where one listing of the site finds it. A
// domain the listing does not place (or a listing that fails) gets "": it
// is bounded by the step's max_parallel only, and by its host's slots when
// its action finds the host. Nil when the site has no max_per_host or it
// cannot bind (it is at least the step's own limit).
func (e *Engine) predictHosts(ctx context.Context, site string, doms []string, limit int) map[string]string {
	n := e.perHost(site)
	if n <= 0 || n >= min(limit, len(doms)) {
		return nil
	}
	out := make(map[string]string, len(doms))
	if s := e.rb.Site(site); s == nil || len(s.URIs) < 2 {
		for _, d := range doms {
			out[d] = e.opts.URIs[site]
		}
		return out
	}
	var listed []Domain
	err := e.do(ctx, func(ctx context.Context) (err error) {
		listed, err = e.sites[site].ListDomains(ctx)
		return err
	})
	if err != nil {
		return out
	}
	want := make(map[string]bool, len(doms))
	for _, d := range doms {
		want[d] = true
	}
	for _, d := range listed {
		if want[d.Name] && d.Host != "" && len(d.Placements) == 0 {
			out[d.Name] = RedactURI(d.Host)
		}
	}
	return out
}

// spread runs fn on each domain of a step at site, at most limit at once,
// and at most the site's max_per_host at once on one host (hosts: the
// host predicted for each domain, see predictHosts; nil: no per-host
// bound here). Domains are launched in the order given, except that one
// whose host is full lets the next ones, of other hosts, go first. With a
// limit of 1 they run one at a time, in order, and the first failure stops
// the rest; otherwise the domains already launched finish and every
// failure is returned.
func spread(ctx context.Context, doms []string, limit, perHost int, hosts map[string]string, fn func(context.Context, string) error) error {
	if limit <= 1 {
		for _, d := range doms {
			if err := fn(ctx, d); err != nil {
				return err
			}
		}
		return nil
	}
	// One queue per predicted host, each in the order given; "" (no
	// prediction) is bounded by limit only.
	var order []string
	queues := map[string][]int{}
	for i, d := range doms {
		h := hosts[d]
		if _, ok := queues[h]; !ok {
			order = append(order, h)
		}
		queues[h] = append(queues[h], i)
	}
	busy := map[string]int{}
	errs := make([]error, len(doms))
	done := make(chan int, len(doms))
	running, left := 0, len(doms)
	for left > 0 {
		if ctx.Err() != nil {
			for _, q := range queues {
				for _, i := range q {
					errs[i] = ctx.Err()
				}
			}
			break
		}
		pick := ""
		next := -1
		if running < limit {
			for _, h := range order {
				q := queues[h]
				if len(q) == 0 || (h != "" && perHost > 0 && busy[h] >= perHost) {
					continue
				}
				if next < 0 || q[0] < next {
					pick, next = h, q[0]
				}
			}
		}
		if next < 0 {
			select {
			case i := <-done:
				running--
				busy[hosts[doms[i]]]--
			case <-ctx.Done():
			}
			continue
		}
		queues[pick] = queues[pick][1:]
		running++
		left--
		busy[pick]++
		go func(i int) {
			errs[i] = fn(ctx, doms[i])
			done <- i
		}(next)
	}
	for ; running > 0; running-- {
		<-done
	}
	return errors.Join(errs...)
}
