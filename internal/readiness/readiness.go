// Package readiness is the preflight of a run and of repli check: it asks
// every site of a runbook, all at once and without changing anything,
// whether it answers, what it has, and whether each domain the run will
// touch is where and in the state its first step needs (the step kind's
// runbooks.Precondition, the rule the engine and the simulator follow too).
// Globs and "all" are resolved against the sites as they are now; a domain
// defined on several hosts of a site, or running at two sites, is a
// blocker. The local files check steps read (a backup) are judged by their
// age: one older than its step or the RPO target allows is a blocker.
package readiness

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

// Report is the readiness of a runbook in a mode; its JSON form is the
// stable output of repli check --json (keys are added, never renamed).
type Report struct {
	Runbook string `json:"runbook"`
	File    string `json:"file"`
	Mode    string `json:"mode"`
	Ready   bool   `json:"ready"`
	Sites   []Site `json:"sites"`
	// Targets are the globs and "all" of the steps that will run, resolved
	// against the sites now.
	Targets []Resolved `json:"targets"`
	// SplitBrain lists the domains that run in two places at once (two
	// hosts of a site, or two sites): each is also a blocker.
	SplitBrain []string `json:"split_brain"`
	// Files are the local files the run's checks read (a backup), judged
	// by their age.
	Files    []File   `json:"files"`
	Blockers []string `json:"blockers"`
	Warnings []string `json:"warnings"`
}

// Resolved is a glob or "all" of a step, matched against its site now.
type Resolved struct {
	Step    string   `json:"step"`
	Site    string   `json:"site"`
	Target  string   `json:"target"`
	Domains []string `json:"domains"`
	// Known is false when the site did not answer: the target could not
	// be resolved.
	Known bool `json:"known"`
}

// Site is what one site answered.
type Site struct {
	Name      string          `json:"name"`
	URI       string          `json:"uri"`
	Reachable bool            `json:"reachable"`
	Error     string          `json:"error,omitempty"`
	Info      engine.SiteInfo `json:"info"`
	Domains   []Domain        `json:"domains"`
}

// Domain is one domain the runbook touches at a site.
type Domain struct {
	Name    string             `json:"name"`
	Present bool               `json:"present"`
	State   engine.DomainState `json:"state,omitempty"`
	// Host is the host of a multi-host site the domain lives on;
	// Placements every host that has it, when there are several.
	Host       string             `json:"host,omitempty"`
	Placements []engine.Placement `json:"placements,omitempty"`
	// Step is the first step touching the domain at this site, Expects the
	// state that step needs it in (empty when any state will do).
	Step    string `json:"step"`
	Expects string `json:"expects,omitempty"`
	// Verdict is ok, warning, blocker or unknown (site unreachable).
	Verdict string `json:"verdict"`
	Note    string `json:"note,omitempty"`
}

// Verdicts.
const (
	OK      = "ok"
	Warning = "warning"
	Blocker = "blocker"
	Unknown = "unknown"
)

// Assess asks every site at once, each within timeout, and judges the
// runbook's domains by the first step of mode that touches them. Steps for
// which done is true (a resumed run is past them) need nothing any more;
// done may be nil. uris are the sites' URIs in use (after overrides),
// sites their connections.
func Assess(ctx context.Context, rb *runbooks.Runbook, mode string, done func(step string) bool,
	uris map[string]string, sites map[string]engine.Hypervisor, timeout time.Duration) *Report {
	if done == nil {
		done = func(string) bool { return false }
	}
	rep := &Report{Runbook: rb.Name, File: rb.File, Mode: mode, Targets: []Resolved{}, SplitBrain: []string{}, Files: []File{}, Blockers: []string{}, Warnings: []string{}}
	rep.Sites = make([]Site, len(rb.Sites))
	lists := make([][]engine.Domain, len(rb.Sites))
	var wg sync.WaitGroup
	for i, s := range rb.Sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			rep.Sites[i], lists[i] = probe(sctx, s.Name, uris[s.Name], sites[s.Name])
		}()
	}
	wg.Wait()
	used := usedSites(rb, mode, done)
	named := rb.Domains()
	for i := range rb.Sites {
		sr := &rep.Sites[i]
		if !sr.Reachable {
			rep.unreachable(sr, used[sr.Name])
		}
		t := touches(rb, mode, done, sr.Name, lists[i], sr.Reachable)
		rep.Targets = append(rep.Targets, t.resolved...)
		rep.judgeSite(sr, lists[i], append(named[sr.Name], t.dynamic...), t.first)
		for _, r := range t.resolved {
			rep.judgeTarget(r, t.defines[r.Step], t.optional[r.Step])
		}
	}
	rep.splitBrainAcrossSites()
	rep.judgeFiles(rb, mode, done, time.Now())
	rep.Ready = len(rep.Blockers) == 0
	return rep
}

// probe asks a site who it is and what it has.
func probe(ctx context.Context, name, uri string, hv engine.Hypervisor) (Site, []engine.Domain) {
	sr := Site{Name: name, URI: engine.RedactURI(uri), Domains: []Domain{}}
	if hv == nil {
		sr.Error = "no connection to the site"
		return sr, nil
	}
	info, err := hv.Info(ctx)
	var list []engine.Domain
	if err == nil {
		list, err = hv.ListDomains(ctx)
	}
	if err != nil {
		sr.Error = err.Error()
		return sr, nil
	}
	sr.Reachable, sr.Info = true, info
	return sr, list
}

// usedSites are the sites some step of this mode needs: a step that may
// fail while the run goes on (on_failure: continue) does not make its site
// a blocker, nor does a fence (a site that does not answer is fenced by
// the operator's statement of how it is isolated).
func usedSites(rb *runbooks.Runbook, mode string, done func(string) bool) map[string]bool {
	used := map[string]bool{}
	for _, st := range rb.Steps {
		if ok, _ := st.RunsIn(rb, mode); ok && !done(st.ID) && st.OnFailure != runbooks.OnFailureContinue && st.Kind != runbooks.KindFence {
			for _, site := range st.Sites() {
				used[site] = true
			}
		}
	}
	return used
}

// Lines are what a run journals of its preflight: each warning, and each
// glob or "all" with the domains it matched when the run started (the
// evidence reads the warnings back by their "preflight warning: " prefix).
func (rep *Report) Lines() []string {
	var out []string
	for _, w := range rep.Warnings {
		out = append(out, "preflight warning: "+w)
	}
	for _, r := range rep.Targets {
		if r.Known {
			out = append(out, fmt.Sprintf("preflight target: step %s: %s matched %d domain(s) at the start: %s", r.Step, r.Target, len(r.Domains), strings.Join(r.Domains, ", ")))
		}
	}
	return out
}
