package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// ErrTimeout is wrapped by a wait that ran out of time.
var ErrTimeout = errors.New("timed out")

// siteError names the site and the URI, so an operator knows where to look.
func (e *Engine) siteError(site, domain string, err error) error {
	// A driver's errors may name the site already (engine/libvirt's do):
	// say it once.
	if site == "local" || strings.Contains(err.Error(), "site "+site+" (") {
		return err
	}
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
	return e.actDetail(ctx, st, site, domain, verb, "", fn)
}

// actDetail is act with a detail recorded in the intent; with adds more to
// the intent before it is written (an exec's argument list).
func (e *Engine) actDetail(ctx context.Context, st *runbooks.Step, site, domain, verb, detail string, fn func(context.Context) error, with ...func(*ActionIntent)) error {
	e.mu.Lock()
	e.actionID++
	id := e.actionID
	e.mu.Unlock()
	intent := &ActionIntent{Action: id, Step: st.ID, Site: site, URI: e.opts.URIs[site], Domain: domain, Verb: verb, Detail: detail}
	for _, w := range with {
		w(intent)
	}
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
	// Poll at least a few times within the timeout, however short it is.
	interval := max(min(e.opts.Poll, e.scaled(timeout)/4), time.Millisecond)
	err := Wait(wctx, interval, func(ctx context.Context) (bool, error) {
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
