package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Placement findings, checked with errors.Is on a *PlacementError.
var (
	// ErrSeveralHosts: a domain is defined on more than one host of one
	// site. Which copy is the real one is for a person to say: it is a
	// preflight blocker, and a driver refuses to act on such a domain
	// unless the call is pinned to a host (OnHost).
	ErrSeveralHosts = errors.New("defined on more than one host")
	// ErrSplitBrain: a domain runs on more than one host (or site) at once.
	ErrSplitBrain = errors.New("split brain")
)

// PlacementError says where a domain is defined when that is a problem.
type PlacementError struct {
	Site       string
	Domain     string
	Placements []Placement
}

// Running lists the placements where the domain is active (running,
// paused, in shutdown…: anything but shut off).
func Running(ps []Placement) []Placement {
	var out []Placement
	for _, p := range ps {
		if Active(p.State) {
			out = append(out, p)
		}
	}
	return out
}

// Active tells whether a domain in state s has a live guest: anything but
// shut off, crashed or no state.
func Active(s DomainState) bool {
	switch s {
	case StateShutoff, StateCrashed, StateNoState, "":
		return false
	}
	return true
}

func (e *PlacementError) Error() string {
	hosts := make([]string, len(e.Placements))
	for i, p := range e.Placements {
		hosts[i] = fmt.Sprintf("%s (%s)", p.Host, p.State)
	}
	if run := Running(e.Placements); len(run) > 1 {
		return fmt.Sprintf("split brain: domain %s runs on %d hosts of site %s at once: %s — stop every copy but one (virsh destroy on the stale hosts), then undefine the stale definitions",
			e.Domain, len(run), e.Site, strings.Join(hosts, ", "))
	}
	return fmt.Sprintf("domain %s is defined on %d hosts of site %s: %s — undefine the stale copy, or pin the domain to one host",
		e.Domain, len(e.Placements), e.Site, strings.Join(hosts, ", "))
}

// Is makes errors.Is match ErrSeveralHosts, and ErrSplitBrain when more
// than one copy runs.
func (e *PlacementError) Is(target error) bool {
	switch target {
	case ErrSeveralHosts:
		return true
	case ErrSplitBrain:
		return len(Running(e.Placements)) > 1
	}
	return false
}

// CheckPlacements is nil when a domain is defined on at most one host, and
// a *PlacementError (ErrSeveralHosts, and ErrSplitBrain when it runs on
// more than one) otherwise.
func CheckPlacements(site, domain string, ps []Placement) error {
	if len(ps) <= 1 {
		return nil
	}
	return &PlacementError{Site: site, Domain: domain, Placements: ps}
}

// Fence makes sure a domain cannot run at a site: on every host of the
// site where it is defined, it is forced off (destroy) and its autostart
// turned off, so that the site coming back does not start it again. It
// returns the placements as re-read afterwards. A site, or any host of it,
// that does not answer is an error wrapping ErrUnreachable: a fence that
// cannot be proven is not a fence. A domain defined nowhere is fenced.
func Fence(ctx context.Context, hv Hypervisor, domain string) ([]Placement, error) {
	ps, err := hv.Locate(ctx, domain)
	if err != nil {
		return ps, fmt.Errorf("locate domain %s: %w", domain, err)
	}
	for _, p := range ps {
		on, err := hv.OnHost(p.Host)
		if err != nil {
			return ps, err
		}
		if Active(p.State) {
			err := on.Destroy(ctx, domain)
			if err != nil && !errors.Is(err, ErrInvalidOperation) && !errors.Is(err, ErrDoneAfterAll) {
				return ps, fmt.Errorf("force off: %w", err)
			}
		}
		if p.Autostart {
			if err := on.SetAutostart(ctx, domain, false); err != nil && !errors.Is(err, ErrDoneAfterAll) {
				return ps, fmt.Errorf("turn autostart off: %w", err)
			}
		}
	}
	after, err := hv.Locate(ctx, domain)
	if err != nil {
		return after, fmt.Errorf("check the fence of domain %s: %w", domain, err)
	}
	for _, p := range after {
		if Active(p.State) || p.Autostart {
			return after, fmt.Errorf("fence domain %s: on %s it is still %s (autostart %t): check the host", domain, p.Host, p.State, p.Autostart)
		}
	}
	return after, nil
}
