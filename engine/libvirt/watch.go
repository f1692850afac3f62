package libvirt

import (
	"context"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/repli-dr/repli/engine"
)

// Watch implements engine.Watcher with libvirt's lifecycle events, from
// every host of the site. The channel is closed when ctx is done, or when
// the connection to any host drops: watch again to resume (the caller
// should then re-read the states, changes in between are not replayed).
func (s *Site) Watch(ctx context.Context) (<-chan engine.Domain, error) {
	wctx, cancel := context.WithCancel(ctx)
	streams := make([]<-chan golibvirt.DomainEventLifecycleMsg, len(s.hosts))
	err := s.eachHost(ctx, func(ctx context.Context, h *host) error {
		i := indexOf(s.hosts, h)
		cctx, ccancel := context.WithTimeout(ctx, s.opts.CallTimeout)
		defer ccancel()
		var ch <-chan golibvirt.DomainEventLifecycleMsg
		err := h.do(cctx, func(lv *golibvirt.Libvirt) error {
			var err error
			ch, err = lv.LifecycleEvents(wctx)
			return err
		})
		if err == nil {
			streams[i] = ch // fn has returned: no race on ch
		}
		return s.wrap(h, "", "subscribe to domain events", err)
	})
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan engine.Domain, 256)
	var wg sync.WaitGroup
	for i, ch := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel() // one host's stream ends: end them all
			s.forward(wctx, s.hosts[i], ch, out)
		}()
	}
	go func() {
		wg.Wait()
		cancel()
		close(out)
	}()
	return out, nil
}

// forward turns one host's lifecycle events into domain states.
func (s *Site) forward(ctx context.Context, h *host, in <-chan golibvirt.DomainEventLifecycleMsg, out chan<- engine.Domain) {
	for {
		var ev golibvirt.DomainEventLifecycleMsg
		var ok bool
		select {
		case <-ctx.Done():
			return
		case ev, ok = <-in:
			if !ok {
				return
			}
		}
		st, known := eventState(ev)
		if !known {
			// A definition changed: the event does not say the state, ask.
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			var raw int32
			err := h.do(cctx, func(lv *golibvirt.Libvirt) error {
				var err error
				raw, _, err = lv.DomainGetState(ev.Dom, 0)
				return err
			})
			cancel()
			if err != nil {
				continue
			}
			st = stateOf(raw)
		}
		if st == "" {
			continue
		}
		if len(s.hosts) > 1 {
			s.remember(ev.Dom.Name, h)
		}
		select {
		case out <- engine.Domain{Name: ev.Dom.Name, State: st, Host: h.ep.display}:
		case <-ctx.Done():
			return
		}
	}
}

// eventState is the state a lifecycle event leaves the domain in; known is
// false when the event does not tell (a definition changed), and the state
// is empty for events that carry no state (undefined).
func eventState(ev golibvirt.DomainEventLifecycleMsg) (st engine.DomainState, known bool) {
	switch golibvirt.DomainEventType(ev.Event) {
	case golibvirt.DomainEventStarted, golibvirt.DomainEventResumed:
		return engine.StateRunning, true
	case golibvirt.DomainEventSuspended:
		return engine.StatePaused, true
	case golibvirt.DomainEventPmsuspended:
		return engine.StateSuspended, true
	case golibvirt.DomainEventShutdown:
		return engine.StateShuttingDown, true
	case golibvirt.DomainEventStopped:
		return engine.StateShutoff, true
	case golibvirt.DomainEventCrashed:
		return engine.StateCrashed, true
	case golibvirt.DomainEventUndefined:
		return "", true
	}
	return "", false
}
