package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// ErrTimeout is wrapped by a wait that ran out of time.
var ErrTimeout = errors.New("timed out")

// siteError names the site and the URI, so an operator knows where to look.
func (e *Engine) siteError(site, domain string, err error) error {
	if domain != "" {
		return fmt.Errorf("site %s (%s), domain %s: %w", site, e.opts.URIs[site], domain, err)
	}
	return fmt.Errorf("site %s (%s): %w", site, e.opts.URIs[site], err)
}

// do runs one hypervisor call under its own deadline.
func (e *Engine) do(ctx context.Context, fn func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, e.opts.CallTimeout)
	defer cancel()
	return fn(cctx)
}

func (e *Engine) domainState(ctx context.Context, site, domain string) (s DomainState, err error) {
	err = e.do(ctx, func(ctx context.Context) error {
		s, err = e.sites[site].DomainState(ctx, domain)
		return err
	})
	return s, err
}

// act journals the intent, performs the action, and journals its outcome.
// If the intent cannot be written, the action is not performed.
func (e *Engine) act(ctx context.Context, st *runbooks.Step, site, domain, verb string, fn func(context.Context) error) error {
	e.mu.Lock()
	e.actionID++
	id := e.actionID
	e.mu.Unlock()
	intent := &ActionIntent{Action: id, Step: st.ID, Site: site, URI: e.opts.URIs[site], Domain: domain, Verb: verb}
	if err := e.emit(ctx, intent); err != nil {
		return err
	}
	began := time.Now()
	err := fn(ctx)
	out := &ActionOutcome{Action: id, Step: st.ID, Site: site, Domain: domain, Verb: verb, OK: err == nil, Duration: time.Since(began)}
	if err != nil {
		err = e.siteError(site, domain, err)
		out.Error = err.Error()
	}
	// The outcome is written even when the run is being interrupted: it is
	// what tells a later resume that this action is not in doubt.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if jerr := e.emit(octx, out); jerr != nil {
		return jerr
	}
	return err
}

// waitState polls until the domain reaches want, or the timeout passes.
func (e *Engine) waitState(ctx context.Context, site, domain string, want DomainState, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, e.scaled(timeout))
	defer cancel()
	var last DomainState
	err := Wait(wctx, e.opts.Poll, func(ctx context.Context) (bool, error) {
		s, err := e.domainState(ctx, site, domain)
		if err != nil {
			return false, err
		}
		last = s
		return s == want, nil
	})
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("%w: not %s after %s (last seen %s)", ErrTimeout, want, timeout, orUnknown(last))
	}
	return err
}

func orUnknown(s DomainState) DomainState {
	if s == "" {
		return "unknown"
	}
	return s
}

// Wait calls cond every interval until it returns true or an error, or ctx
// is done. It is the one wait loop every driver and step shares.
func Wait(ctx context.Context, interval time.Duration, cond func(context.Context) (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func stateMatches(got DomainState, want string) bool {
	switch want {
	case "running":
		return got == StateRunning || got == StateBlocked
	default:
		return string(got) == want
	}
}

func (e *Engine) check(ctx context.Context, st *runbooks.Step) error {
	c := st.Check
	var bad []string
	for _, d := range c.Domains {
		s, err := e.domainState(ctx, c.Site, d)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", d, err))
		case !stateMatches(s, c.State):
			bad = append(bad, fmt.Sprintf("%s is %s", d, s))
		}
		if err := e.logf(ctx, st.ID, "info", "%s/%s: %s", c.Site, d, describeState(s, err)); err != nil {
			return err
		}
	}
	if len(bad) > 0 {
		return e.siteError(c.Site, "", fmt.Errorf("%d of %d domain(s) not %s: %s", len(bad), len(c.Domains), c.State, strings.Join(bad, "; ")))
	}
	return nil
}

func describeState(s DomainState, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return string(s)
}

func (e *Engine) shutdown(ctx context.Context, st *runbooks.Step) error {
	s := st.Shutdown
	hv := e.sites[s.Site]
	for _, d := range s.Domains {
		state, err := e.domainState(ctx, s.Site, d)
		if err != nil {
			return e.siteError(s.Site, d, err)
		}
		if state == StateShutoff {
			if err := e.logf(ctx, st.ID, "info", "%s/%s is already shut off", s.Site, d); err != nil {
				return err
			}
			continue
		}
		err = e.act(ctx, st, s.Site, d, "shutdown", func(ctx context.Context) error {
			if err := e.do(ctx, func(ctx context.Context) error { return hv.Shutdown(ctx, d) }); err != nil {
				return fmt.Errorf("request guest shutdown: %w", err)
			}
			return e.waitState(ctx, s.Site, d, StateShutoff, s.Timeout)
		})
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrTimeout) {
			return err
		}
		if !s.Force {
			return fmt.Errorf("%w; the guest ignored the shutdown request and force is off: stop it by hand or set force: true", err)
		}
		if err := e.logf(ctx, st.ID, "warn", "%s/%s did not shut off within %s; forcing it off (force: true)", s.Site, d, s.Timeout); err != nil {
			return err
		}
		err = e.act(ctx, st, s.Site, d, "destroy", func(ctx context.Context) error {
			if err := e.do(ctx, func(ctx context.Context) error { return hv.Destroy(ctx, d) }); err != nil {
				return fmt.Errorf("force off: %w", err)
			}
			return e.waitState(ctx, s.Site, d, StateShutoff, time.Minute)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) start(ctx context.Context, st *runbooks.Step) error {
	s := st.Start
	hv := e.sites[s.Site]
	for gi, group := range s.Groups {
		if len(s.Groups) > 1 {
			if err := e.logf(ctx, st.ID, "info", "group %d of %d: %s", gi+1, len(s.Groups), strings.Join(group, ", ")); err != nil {
				return err
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, len(group))
		for i, d := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = e.startOne(ctx, st, hv, s, d)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) startOne(ctx context.Context, st *runbooks.Step, hv Hypervisor, s *runbooks.Start, d string) error {
	state, err := e.domainState(ctx, s.Site, d)
	if err != nil {
		return e.siteError(s.Site, d, err)
	}
	if stateMatches(state, "running") {
		return e.logf(ctx, st.ID, "info", "%s/%s is already running", s.Site, d)
	}
	return e.act(ctx, st, s.Site, d, "start", func(ctx context.Context) error {
		if err := e.do(ctx, func(ctx context.Context) error { return hv.Start(ctx, d) }); err != nil {
			return fmt.Errorf("start: %w", err)
		}
		return e.waitState(ctx, s.Site, d, StateRunning, s.Timeout)
	})
}
