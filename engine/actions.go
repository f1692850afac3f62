package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// ErrTimeout is wrapped by a wait that ran out of time.
var ErrTimeout = errors.New("timed out")

// siteError names the site and the URI, so an operator knows where to look.
func (e *Engine) siteError(site, domain string, err error) error {
	// A driver's errors may name the site, host and domain already
	// (engine/libvirt's do): say it once.
	if site == "local" || ErrorHost(err) != "" {
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
	host, err := e.hostOf(ctx, site, domain)
	if err != nil {
		return e.siteError(site, domain, err)
	}
	// The host's max_per_host slot is taken before the intent is written:
	// an intent means the action runs now, not after a wait.
	ctx, release, err := e.holdHost(ctx, site, host, domain)
	if err != nil {
		return err
	}
	intent := &ActionIntent{Action: id, Step: st.ID, Site: site, URI: host, Domain: domain, Verb: verb, Detail: detail}
	for _, w := range with {
		w(intent)
	}
	if err := e.emit(ctx, intent); err != nil {
		release()
		return err
	}
	began := time.Now()
	err = fn(ctx)
	release()
	out := &ActionOutcome{Action: id, Step: st.ID, Site: site, Domain: domain, Verb: verb, OK: err == nil, Duration: time.Since(began), Verdict: Verdict(err)}
	if h := ErrorHost(err); h != "" && h != host {
		out.URI = h
	}
	switch {
	case out.Verdict == VerdictDoneAfterAll:
		// The answer was lost but the state read again shows it done.
		out.OK, out.Error, err = true, e.siteError(site, domain, err).Error(), nil
	case err != nil:
		err = e.siteError(site, domain, err)
		out.Error = err.Error()
	}
	write := e.emitOutcome
	if w, _ := verbWant(verb); w != "" {
		// A resume reads the domain's state to settle this action: its
		// outcome may share the next event's commit.
		write = e.emitLater
	}
	if jerr := write(ctx, out); jerr != nil {
		return jerr
	}
	return err
}

// emitOutcome writes an action's outcome, even when the run is being
// interrupted: it is what tells a later resume that the action is not in
// doubt. A trail that is busy (another process holds its write lock) is
// tried again for a while; if the outcome still cannot be written the run
// stops, resumable, and resume reconciles the action against live state.
// An action is never reported failed because the trail was busy.
func (e *Engine) emitOutcome(ctx context.Context, out *ActionOutcome) error {
	return e.retryOutcome(out, func() error {
		octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return e.emit(octx, out)
	})
}

// appendOutcome is emitOutcome's retries for an outcome queued by
// emitLater, committed on its own (the batch it was in was refused).
func (e *Engine) appendOutcome(ctx context.Context, out *ActionOutcome) error {
	return e.retryOutcome(out, func() error {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return e.journal.Append(octx, out)
	})
}

// retryOutcome calls write until it succeeds, the run is over, or the
// outcome budget is spent.
func (e *Engine) retryOutcome(out *ActionOutcome, write func() error) error {
	budget := e.opts.OutcomeBudget
	deadline := time.Now().Add(budget)
	delay := min(100*time.Millisecond, budget/8)
	for {
		err := write()
		if err == nil || errors.Is(err, ErrRunOver) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: the outcome of %s %s/%s could not be recorded for %s (%v); the run stops here and resume checks the live state", errStopped, out.Verb, out.Site, out.Domain, budget, err)
		}
		time.Sleep(delay)
		delay = min(2*delay, 2*time.Second)
	}
}

// hostOf is the host an action on a domain goes to: for a site served by
// several hosts, the one where the domain is defined (a domain defined on
// several is refused, naming them); otherwise the site's URI.
func (e *Engine) hostOf(ctx context.Context, site, domain string) (string, error) {
	uri := e.opts.URIs[site]
	s := e.rb.Site(site)
	if domain == "" || s == nil || len(s.URIs) < 2 {
		return uri, nil
	}
	var ps []Placement
	err := e.do(ctx, func(ctx context.Context) (err error) {
		ps, err = e.sites[site].Locate(ctx, domain)
		return err
	})
	switch {
	case errors.Is(err, ErrDomainNotFound) || (err == nil && len(ps) == 0):
		return uri, nil // the action says so itself
	case err != nil:
		return "", err
	}
	if err := CheckPlacements(site, domain, ps); err != nil {
		return "", err
	}
	return RedactURI(ps[0].Host), nil
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
