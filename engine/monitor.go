package engine

import (
	"context"
	"sort"
	"sync"
	"time"
)

// SiteStatus is what a console shows of a site: whether it answers, and the
// live state of its domains. It is a view, not evidence: it is not journaled.
type SiteStatus struct {
	Site      string
	Reachable bool
	Err       string
	Domains   map[string]DomainState
	At        time.Time
}

// Monitor watches every site and sends its status whenever it changes: at
// once on a lifecycle event from hypervisors that push them (Watcher), and
// at least every interval otherwise, so an unreachable site shows within
// seconds. The channel is closed when ctx is done.
func Monitor(ctx context.Context, sites map[string]Hypervisor, interval time.Duration) <-chan SiteStatus {
	out := make(chan SiteStatus, 64)
	var wg sync.WaitGroup
	names := make([]string, 0, len(sites))
	for n := range sites {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			watchSite(ctx, name, sites[name], interval, out)
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}

func watchSite(ctx context.Context, name string, hv Hypervisor, interval time.Duration, out chan<- SiteStatus) {
	var changes <-chan Domain
	subscribe := func() {
		if w, ok := hv.(Watcher); ok && changes == nil {
			if ch, err := w.Watch(ctx); err == nil {
				changes = ch
			}
		}
	}
	poll := func() SiteStatus {
		st := SiteStatus{Site: name, At: time.Now(), Domains: map[string]DomainState{}}
		pctx, cancel := context.WithTimeout(ctx, min(interval*2, 10*time.Second))
		defer cancel()
		doms, err := hv.ListDomains(pctx)
		if err != nil {
			st.Err = err.Error()
			return st
		}
		st.Reachable = true
		for _, d := range doms {
			st.Domains[d.Name] = d.State
		}
		return st
	}
	send := func(st SiteStatus) {
		select {
		case out <- st:
		default: // the console is busy: it gets the next status
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	// The site is listed once, then kept from its lifecycle events: a
	// change costs a copy of the status, not a list of every domain (which
	// made watching a 500-domain switchover quadratic). It is listed again
	// on every tick, which catches what events do not say (a domain
	// defined or undefined), and when the link drops.
	st := poll()
	for {
		if st.Reachable {
			subscribe()
		}
		send(st)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st = poll()
		case d, ok := <-changes:
			if !ok {
				changes = nil // the link dropped: poll, and subscribe again when it answers
				st = poll()
				continue
			}
			if st, ok = changed(st, d, changes); !ok {
				changes = nil
				st = poll()
			}
		}
	}
}

// changed is st with d and every change already queued after it applied,
// in a copy (the status sent before is the console's); ok is false when
// the changes' channel closed meanwhile.
func changed(st SiteStatus, d Domain, changes <-chan Domain) (SiteStatus, bool) {
	next := SiteStatus{Site: st.Site, Reachable: true, At: time.Now(), Domains: make(map[string]DomainState, len(st.Domains)+1)}
	for k, v := range st.Domains {
		next.Domains[k] = v
	}
	next.Domains[d.Name] = d.State
	for {
		select {
		case d, ok := <-changes:
			if !ok {
				return next, false
			}
			next.Domains[d.Name] = d.State
		default:
			return next, true
		}
	}
}
