package readiness

import (
	"errors"
	"fmt"
	"strings"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

// touch is the first step that touches a domain at a site, and what that
// step needs of it.
type touch struct {
	step string
	pre  runbooks.Precondition
}

// siteTouches is what the steps of a mode do at one site.
type siteTouches struct {
	first map[string]touch
	// dynamic are the domains only a glob or "all" names, in step order.
	dynamic  []string
	resolved []Resolved
	// defines: a step before this one defines domains at the site, so a
	// glob matching nothing yet may match then. optional: the step's
	// failure does not stop the run.
	defines, optional map[string]bool
}

// touches walks the steps of mode in order and finds, for each domain of
// site, the first step that touches it; globs and "all" are matched
// against list (the site's domains now) when known.
func touches(rb *runbooks.Runbook, mode string, done func(string) bool, site string, list []engine.Domain, known bool) siteTouches {
	out := siteTouches{first: map[string]touch{}, defines: map[string]bool{}, optional: map[string]bool{}}
	static := map[string]bool{}
	for _, d := range rb.Domains()[site] {
		static[d] = true
	}
	defined := false
	for _, st := range rb.Steps {
		if ok, _ := st.RunsIn(rb, mode); !ok || done(st.ID) {
			continue // the run skips it, or a resumed run is past it: it needs nothing
		}
		for i, t := range st.Targets() {
			if t.Site != site {
				continue
			}
			pre := st.Precondition(i)
			doms := t.Domains
			if t.Dynamic() {
				doms = match(t, list)
				out.resolved = append(out.resolved, Resolved{Step: st.ID, Site: site, Target: t.String(), Domains: doms, Known: known})
				out.defines[st.ID], out.optional[st.ID] = defined, st.OnFailure == runbooks.OnFailureContinue
			}
			for _, d := range doms {
				if _, seen := out.first[d]; !seen {
					out.first[d] = touch{step: st.ID, pre: pre}
					if !static[d] {
						out.dynamic = append(out.dynamic, d)
					}
				}
			}
			defined = defined || pre.MayBeMissing
		}
	}
	return out
}

// match resolves a glob or "all" the way the engine does when the step
// runs.
func match(t runbooks.Target, list []engine.Domain) []string {
	names := make([]string, len(list))
	for i, d := range list {
		names[i] = d.Name
	}
	return t.Match(names)
}

// judgeSite judges each domain of a site against its first step.
func (rep *Report) judgeSite(sr *Site, list []engine.Domain, names []string, first map[string]touch) {
	live := map[string]engine.Domain{}
	for _, d := range list {
		live[d.Name] = d
	}
	for _, name := range names {
		t := first[name]
		dr := Domain{Name: name, Step: t.step, Expects: t.pre.Before, Verdict: Unknown}
		if sr.Reachable {
			d, ok := live[name]
			dr.Present, dr.State, dr.Host, dr.Placements = ok, d.State, d.Host, d.Placements
			switch {
			case !ok && t.pre.MayBeMissing:
				dr.Verdict, dr.Note = OK, fmt.Sprintf("step %s defines it", t.step)
			case !ok:
				dr.Verdict, dr.Note = Blocker, fmt.Sprintf("is missing: not defined at site %s, and step %s names it", sr.Name, t.step)
			default:
				dr.Verdict, dr.Note = Judge(t.pre, t.step, d.State)
			}
			if err := engine.CheckPlacements(sr.Name, name, d.Placements); ok && err != nil {
				// Which copy is the real one is for a person to say.
				dr.Verdict, dr.Note = Blocker, err.Error()
				rep.placement(err)
			}
		}
		rep.add(dr.Verdict, fmt.Sprintf("%s/%s %s", sr.Name, name, dr.Note), len(dr.Placements) > 1)
		sr.Domains = append(sr.Domains, dr)
	}
}

// add records a verdict's line; placed: the note is a whole sentence
// already (a placement finding).
func (rep *Report) add(verdict, line string, placed bool) {
	if placed {
		return // placement() recorded it
	}
	switch verdict {
	case Blocker:
		rep.Blockers = append(rep.Blockers, line)
	case Warning:
		rep.Warnings = append(rep.Warnings, line)
	}
}

// placement records a domain defined on several hosts of a site: a
// blocker, and split brain when more than one copy runs.
func (rep *Report) placement(err error) {
	if errors.Is(err, engine.ErrSplitBrain) {
		rep.SplitBrain = append(rep.SplitBrain, err.Error())
		rep.Blockers = append(rep.Blockers, "SPLIT BRAIN: "+err.Error())
		return
	}
	rep.Blockers = append(rep.Blockers, err.Error())
}

func (rep *Report) unreachable(sr *Site, used bool) {
	msg := fmt.Sprintf("site %s is unreachable: %s", sr.Name, sr.Error)
	if !used {
		// In disaster mode the lost primary is expected not to answer.
		rep.Warnings = append(rep.Warnings, msg+fmt.Sprintf(" (no step needs it in %s mode)", rep.Mode))
		return
	}
	rep.Blockers = append(rep.Blockers, msg)
}

// judgeTarget: a glob that matches nothing would fail its step; it is a
// blocker, unless an earlier step defines domains there (a warning) or the
// step may fail while the run goes on (a warning).
func (rep *Report) judgeTarget(r Resolved, defined, optional bool) {
	if !r.Known || len(r.Domains) > 0 {
		return
	}
	msg := fmt.Sprintf("step %s: %s matches no domain now", r.Step, r.Target)
	switch {
	case defined:
		rep.Warnings = append(rep.Warnings, msg+" (an earlier step defines domains there)")
	case optional:
		rep.Warnings = append(rep.Warnings, msg+" (on_failure: continue)")
	default:
		rep.Blockers = append(rep.Blockers, msg+": check the pattern and the site")
	}
}

// splitBrainAcrossSites finds the domains running at two sites at once:
// the lost primary's guest come back beside the new secondary's.
func (rep *Report) splitBrainAcrossSites() {
	where := map[string][]string{}
	var order []string
	for _, s := range rep.Sites {
		for _, d := range s.Domains {
			if d.Present && engine.Active(d.State) {
				if where[d.Name] == nil {
					order = append(order, d.Name)
				}
				where[d.Name] = append(where[d.Name], fmt.Sprintf("%s (%s)", s.Name, d.State))
			}
		}
	}
	for _, name := range order {
		if len(where[name]) < 2 {
			continue
		}
		err := fmt.Errorf("%w: domain %s runs at %d sites at once: %s — fence the copy at the lost site (virsh destroy, autostart off) before anything else",
			engine.ErrSplitBrain, name, len(where[name]), strings.Join(where[name], ", "))
		rep.SplitBrain = append(rep.SplitBrain, err.Error())
		rep.Blockers = append(rep.Blockers, "SPLIT BRAIN: "+err.Error())
	}
}

// Judge judges a domain's state against what the first step touching it
// needs (pre), the way the engine will treat it: what would fail the step
// is a blocker, what the step would skip is a warning.
func Judge(pre runbooks.Precondition, step string, st engine.DomainState) (verdict, note string) {
	got := string(st)
	switch {
	case pre.Before == "" || runbooks.Reached(got, pre.Before, false):
		return OK, ""
	case contains(pre.Also, got):
		return OK, ""
	case pre.After != "" && runbooks.Reached(got, pre.After, true):
		return Warning, fmt.Sprintf("is already %s; step %s will skip it", words(pre.After), step)
	case pre.Soft:
		return Warning, fmt.Sprintf("is %s; step %s expects it %s", st, step, pre.Before)
	}
	refusal := pre.Refusal
	if refusal == "" {
		refusal = "expects it " + pre.Before
	}
	return Blocker, fmt.Sprintf("is %s; step %s %s", st, step, refusal)
}

func words(state string) string {
	if state == "shutoff" {
		return "shut off"
	}
	return state
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
