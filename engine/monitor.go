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
	for {
		st := poll()
		if st.Reachable {
			subscribe()
		}
		send(st)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case _, ok := <-changes:
			if !ok {
				changes = nil // the link dropped: poll, and subscribe again when it answers
			}
		}
	}
}
