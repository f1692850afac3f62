package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/repli-dr/repli/runbooks"
)

// gateTargets resolves the step's target at its gate, so that what the
// gate shows (and its journal record covers) is exactly the list of domains
// the step will act on: a glob or "all" is matched against the site now.
// The list is kept, and the step acts on it and nothing else.
func (e *Engine) gateTargets(ctx context.Context, st *runbooks.Step) (site string, doms []string, err error) {
	ts := st.Targets()
	if len(ts) == 0 {
		return "", nil, nil
	}
	t := ts[0]
	if !t.Dynamic() {
		return t.Site, t.Domains, nil
	}
	doms, err = e.match(ctx, t)
	if err != nil {
		return t.Site, nil, err
	}
	e.mu.Lock()
	if e.approvedTargets == nil {
		e.approvedTargets = map[string][]string{}
	}
	e.approvedTargets[st.ID] = doms
	e.mu.Unlock()
	return t.Site, doms, e.logf(ctx, st.ID, "info", "%s: %s", t, strings.Join(doms, ", "))
}

// match lists the domains of a site a glob or "all" matches now, by name.
func (e *Engine) match(ctx context.Context, t runbooks.Target) ([]string, error) {
	var doms []Domain
	err := e.do(ctx, func(ctx context.Context) (err error) {
		doms, err = e.sites[t.Site].ListDomains(ctx)
		return err
	})
	if err != nil {
		return nil, e.siteError(t.Site, "", fmt.Errorf("list domains: %w", err))
	}
	names := make([]string, len(doms))
	for i, d := range doms {
		names[i] = d.Name
	}
	out := t.Match(names)
	if len(out) == 0 {
		return nil, e.siteError(t.Site, "", fmt.Errorf("%s matches no domain", t))
	}
	return out, nil
}

// shownAtGate returns the list the step's gate showed and the operator
// approved, if its target was resolved there. When the site has changed
// since (a domain added or gone), the step still acts on the approved list
// only, and says what changed.
func (e *Engine) shownAtGate(ctx context.Context, st *runbooks.Step, t runbooks.Target) ([]string, bool, error) {
	e.mu.Lock()
	approved, ok := e.approvedTargets[st.ID]
	e.mu.Unlock()
	if !ok {
		return nil, false, nil
	}
	now, err := e.match(ctx, t)
	if err == nil && !slices.Equal(now, approved) {
		var added, gone []string
		for _, d := range now {
			if !slices.Contains(approved, d) {
				added = append(added, d)
			}
		}
		for _, d := range approved {
			if !slices.Contains(now, d) {
				gone = append(gone, d)
			}
		}
		if lerr := e.logf(ctx, st.ID, "warn", "%s changed since the gate (new: %s; gone: %s); acting on the %d domain(s) approved at the gate only", t, orNone(added), orNone(gone), len(approved)); lerr != nil {
			return nil, true, lerr
		}
	}
	return approved, true, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
