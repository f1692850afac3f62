package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

type checkFlags struct {
	sites   []string
	vars    []string
	mode    string
	output  outputFormat
	timeout time.Duration
}

func newCheckCmd() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Tell whether a runbook can run now: sites reachable, domains present and in the state its steps expect",
		Long: `Connect to every site of a runbook and report its readiness without changing
anything: whether each site answers (and why not), its libvirt and hypervisor
versions, and for every domain the runbook names whether it is defined at its
site, its current state, and the state the first step touching it expects
(a check: its state; a shutdown: running; a start: shut off).

Blockers are what would stop the run: an unreachable site, a missing domain,
a domain a check step would find in the wrong state, or one a start step
could not start. A domain already in the state a shutdown or start step
leads to is a warning: the step will skip it.

FILE is a runbook file, or the name of a bundled runbook.

Exit status: 0 ready, 1 not ready (the blockers are listed), 2 bad input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.sites, "site", nil, "override a site's URI: NAME=URI (repeatable)")
	outputFlag(cmd, &f.output)
	fl.DurationVar(&f.timeout, "timeout", 15*time.Second, "how long to wait for each site to answer (sites are asked at once)")
	fl.StringVar(&f.mode, "mode", "test", "the run's mode: a site no step touches in this mode is not a blocker")
	fl.StringArrayVar(&f.vars, "var", nil, "override a runbook var: NAME=VALUE")
	return cmd
}

// readiness is the report of repli check; its JSON form is stable.
type readiness struct {
	Runbook  string       `json:"runbook"`
	File     string       `json:"file"`
	Mode     string       `json:"mode"`
	Ready    bool         `json:"ready"`
	Sites    []siteReport `json:"sites"`
	Blockers []string     `json:"blockers"`
	Warnings []string     `json:"warnings"`
}

type siteReport struct {
	Name      string          `json:"name"`
	URI       string          `json:"uri"`
	Reachable bool            `json:"reachable"`
	Error     string          `json:"error,omitempty"`
	Info      engine.SiteInfo `json:"info"`
	Domains   []domainReport  `json:"domains"`
}

type domainReport struct {
	Name    string             `json:"name"`
	Present bool               `json:"present"`
	State   engine.DomainState `json:"state,omitempty"`
	// Step is the first step touching the domain at this site, Expects the
	// state that step expects it in (empty when the step expects none).
	Step    string `json:"step"`
	Expects string `json:"expects,omitempty"`
	// Verdict is ok, warning, blocker or unknown (site unreachable).
	Verdict string `json:"verdict"`
	Note    string `json:"note,omitempty"`
}

// expectation is the first step that touches a domain at a site.
type expectation struct {
	step string
	kind runbooks.Kind
	// state is the state the step expects the domain in; empty when any
	// state will do.
	state string
	// mayBeMissing: the step defines the domain, it need not exist yet.
	mayBeMissing bool
}

// firstTouch maps site → domain → the first step naming it. Domains a step
// selects by glob or "all" are resolved only at run time: not here.
func firstTouch(rb *runbooks.Runbook, mode string, done map[string]bool) map[string]map[string]expectation {
	out := map[string]map[string]expectation{}
	for _, st := range rb.Steps {
		if ok, _ := st.RunsIn(rb, mode); !ok || done[st.ID] {
			continue // the run skips it, or a resumed run is past it: it expects nothing
		}
		for ti, t := range st.Targets() {
			e := expectation{step: st.ID, kind: st.Kind}
			switch st.Kind {
			case runbooks.KindCheck:
				e.state = st.Check.State
				if st.Check.Agent {
					e.state = string(engine.StateRunning)
				}
			case runbooks.KindWait:
				e.kind, e.state = runbooks.KindCheck, st.Wait.Until.State
			case runbooks.KindShutdown, runbooks.KindDestroy, runbooks.KindSuspend:
				e.state = string(engine.StateRunning)
			case runbooks.KindStart, runbooks.KindUndefine:
				e.state = string(engine.StateShutoff)
			case runbooks.KindResume:
				e.state = string(engine.StatePaused)
			case runbooks.KindDefine:
				e.mayBeMissing = ti == 0 // the copy's source must exist
			}
			if out[t.Site] == nil {
				out[t.Site] = map[string]expectation{}
			}
			for _, d := range t.Domains {
				if _, seen := out[t.Site][d]; !seen {
					out[t.Site][d] = e
				}
			}
		}
	}
	return out
}

// assess judges a domain's state against the first step that touches it,
// the way the engine will treat it: what would fail the step is a blocker,
// what the step would skip is a warning.
func assess(e expectation, st engine.DomainState) (verdict, note string) {
	running := st == engine.StateRunning || st == engine.StateBlocked
	off := st == engine.StateShutoff || st == engine.StateCrashed
	is := func(want string) bool {
		return string(st) == want || (want == string(engine.StateRunning) && running)
	}
	if e.state == "" || is(e.state) || (e.kind == runbooks.KindStart && off) {
		return "ok", ""
	}
	switch e.kind {
	case runbooks.KindShutdown, runbooks.KindDestroy:
		if off {
			return "warning", fmt.Sprintf("is already shut off; step %s will skip it", e.step)
		}
		return "warning", fmt.Sprintf("is %s; step %s expects it running", st, e.step)
	case runbooks.KindStart:
		if running {
			return "warning", fmt.Sprintf("is already running; step %s will skip it", e.step)
		}
	case runbooks.KindSuspend:
		if st == engine.StatePaused {
			return "warning", fmt.Sprintf("is already paused; step %s will skip it", e.step)
		}
	case runbooks.KindResume:
		if running {
			return "warning", fmt.Sprintf("is already running; step %s will skip it", e.step)
		}
	}
	verb := map[runbooks.Kind]string{
		runbooks.KindCheck: "checks that it is " + e.state, runbooks.KindStart: "cannot start it",
		runbooks.KindSuspend: "cannot suspend it", runbooks.KindResume: "cannot resume it",
		runbooks.KindUndefine: "undefines only a shut off domain",
	}[e.kind]
	if verb == "" {
		verb = "expects it " + e.state
	}
	return "blocker", fmt.Sprintf("is %s; step %s %s", st, e.step, verb)
}

func runCheck(cmd *cobra.Command, path string, f checkFlags) error {
	rb, err := loadRunbook(path, f.vars...)
	if err != nil {
		return err
	}
	if !contains(modes, f.mode) {
		return withCode(exitUsage, fmt.Errorf("--mode %q: use one of %s", f.mode, strings.Join(modes, ", ")))
	}
	uris, err := siteURIs(rb, f.sites)
	if err != nil {
		return withCode(exitUsage, err)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	// connect need not wait for the first connections (they go on in the
	// background): the questions below wait for them, within --timeout.
	noWait, stop := context.WithCancel(ctx)
	stop()
	sites, _, err := connect(noWait, rb, uris, runFlags{speed: 1, seed: 1})
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer func() {
		for _, hv := range sites {
			hv.Close()
		}
	}()
	rep := assessRunbook(ctx, rb, f.mode, nil, uris, sites, f.timeout)
	out := cmd.OutOrStdout()
	if f.output.json() {
		if err := writeJSON(out, rep); err != nil {
			return err
		}
	} else {
		printReadiness(out, rep)
	}
	if !rep.Ready {
		return withCode(exitFailed, errSilent)
	}
	return nil
}

// assessRunbook asks every site, all at once, what it has. Steps in done (a
// resumed run is past them) expect nothing any more.
func assessRunbook(ctx context.Context, rb *runbooks.Runbook, mode string, done map[string]bool, uris map[string]string, sites map[string]engine.Hypervisor, timeout time.Duration) *readiness {
	rep := &readiness{Runbook: rb.Name, File: rb.File, Mode: mode, Blockers: []string{}, Warnings: []string{}}
	touch := firstTouch(rb, mode, done)
	// Sites some step of this mode needs: a step that may fail and the run
	// goes on (on_failure: continue, like fencing a lost primary) does not
	// make its site a blocker.
	used := map[string]bool{}
	for _, st := range rb.Steps {
		if ok, _ := st.RunsIn(rb, mode); ok && !done[st.ID] && st.OnFailure != runbooks.OnFailureContinue {
			for _, site := range st.Sites() {
				used[site] = true
			}
		}
	}
	named := rb.Domains()
	rep.Sites = make([]siteReport, len(rb.Sites))
	var wg sync.WaitGroup
	for i, s := range rb.Sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			rep.Sites[i] = assessSite(sctx, s.Name, uris[s.Name], sites[s.Name], named[s.Name], touch[s.Name])
		}()
	}
	wg.Wait()
	for _, sr := range rep.Sites {
		if !sr.Reachable {
			msg := fmt.Sprintf("site %s is unreachable: %s", sr.Name, sr.Error)
			if !used[sr.Name] {
				// In disaster mode the lost primary is expected not to answer.
				rep.Warnings = append(rep.Warnings, msg+fmt.Sprintf(" (no step needs it in %s mode)", mode))
				continue
			}
			rep.Blockers = append(rep.Blockers, msg)
			continue
		}
		for _, d := range sr.Domains {
			line := fmt.Sprintf("%s/%s %s", sr.Name, d.Name, d.Note)
			switch d.Verdict {
			case "blocker":
				rep.Blockers = append(rep.Blockers, line)
			case "warning":
				rep.Warnings = append(rep.Warnings, line)
			}
		}
	}
	rep.Ready = len(rep.Blockers) == 0
	return rep
}

func assessSite(ctx context.Context, name, uri string, hv engine.Hypervisor, doms []string, touch map[string]expectation) siteReport {
	sr := siteReport{Name: name, URI: engine.RedactURI(uri), Domains: []domainReport{}}
	info, err := hv.Info(ctx)
	var states map[string]engine.DomainState
	if err == nil {
		var list []engine.Domain
		list, err = hv.ListDomains(ctx)
		states = map[string]engine.DomainState{}
		for _, d := range list {
			states[d.Name] = d.State
		}
	}
	if err != nil {
		sr.Error = err.Error()
	} else {
		sr.Reachable, sr.Info = true, info
	}
	for _, d := range doms {
		e := touch[d]
		dr := domainReport{Name: d, Step: e.step, Expects: e.state, Verdict: "unknown"}
		if sr.Reachable {
			st, ok := states[d]
			dr.Present, dr.State = ok, st
			switch {
			case !ok && e.mayBeMissing:
				dr.Verdict, dr.Note = "ok", fmt.Sprintf("step %s defines it", e.step)
			case !ok:
				dr.Verdict, dr.Note = "blocker", fmt.Sprintf("is missing: not defined at site %s, and step %s names it", name, e.step)
			default:
				dr.Verdict, dr.Note = assess(e, st)
			}
		}
		sr.Domains = append(sr.Domains, dr)
	}
	return sr
}

var verdictMark = map[string]string{"ok": "✓ ok", "warning": "! warning", "blocker": "✗ blocker", "unknown": "? unknown"}

func printReadiness(w io.Writer, rep *readiness) {
	fmt.Fprintf(w, "Readiness of %s (%s)\n\n", rep.Runbook, rep.File)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tREACHABLE\tHOST\tLIBVIRT\tHYPERVISOR\tURI")
	for _, s := range rep.Sites {
		if !s.Reachable {
			fmt.Fprintf(tw, "%s\t✗ no\t-\t-\t-\t%s\n", s.Name, s.URI)
			continue
		}
		fmt.Fprintf(tw, "%s\t✓ yes\t%s\t%s\t%s %s\t%s\n", s.Name, s.Info.Hostname, s.Info.LibvirtVersion, s.Info.Hypervisor, s.Info.HypervisorVersion, s.URI)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tDOMAIN\tPRESENT\tSTATE\tFIRST STEP\tEXPECTS\tVERDICT")
	for _, s := range rep.Sites {
		for _, d := range s.Domains {
			present, state := "? unknown", "-"
			if s.Reachable {
				switch {
				case d.Present:
					present, state = "✓ yes", string(d.State)
				case d.Verdict == "ok":
					present, state = "· to define", "-"
				default:
					present, state = "✗ missing", "-"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, d.Name, present, state, d.Step, orDash(d.Expects), verdictMark[d.Verdict])
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, warn := range sorted(rep.Warnings) {
		fmt.Fprintf(w, "! warning: %s\n", warn)
	}
	if rep.Ready {
		n := 0
		for _, s := range rep.Sites {
			n += len(s.Domains)
		}
		fmt.Fprintf(w, "✓ ready: %d site(s) reachable, %d domain(s) checked\n", len(rep.Sites), n)
		return
	}
	fmt.Fprintf(w, "✗ not ready: %d blocker(s)\n", len(rep.Blockers))
	for _, b := range rep.Blockers {
		fmt.Fprintf(w, "  - %s\n", b)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sorted(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}
