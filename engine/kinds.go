package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

func (e *Engine) execute(ctx context.Context, st *runbooks.Step) error {
	if st.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.scaled(st.Timeout))
		defer cancel()
	}
	err := e.executeKind(ctx, st)
	if errors.Is(err, context.DeadlineExceeded) && st.Timeout > 0 && !errors.Is(err, errStopped) {
		return fmt.Errorf("the step did not finish within its timeout of %s: %w", st.Timeout, err)
	}
	return err
}

func (e *Engine) executeKind(ctx context.Context, st *runbooks.Step) error {
	x, ok := executors[st.Kind]
	if !ok {
		return fmt.Errorf("step kind %q is not supported by this engine: update repli", st.Kind)
	}
	return x.Run(e, ctx, st)
}

// Executor is how the engine carries out one step kind, declared beside
// the kind's runbooks.KindSpec.
type Executor struct {
	// Run executes a step of the kind: it resolves the targets, skips what
	// is already done, and journals each action through e.act.
	Run func(e *Engine, ctx context.Context, st *runbooks.Step) error
	// Verbs lists the action verbs the kind journals, each with the state
	// a done action leaves the domain in: reconciling an in-doubt action
	// reads the live state and compares. "" when the state does not tell
	// (the step checks again before acting). Required: NoActions for a
	// kind that journals no action on a domain.
	Verbs map[string]DomainState
}

// NoActions is the Verbs of a kind that journals no action on a domain
// (manual, check, wait): nothing of it is ever in doubt.
var NoActions = map[string]DomainState{}

var executors = map[runbooks.Kind]Executor{}

// RegisterKind declares the executor of a step kind that runbooks declares
// (runbooks.RegisterKind). It is called at package initialisation and
// panics on a second executor for one kind or on a verb two kinds claim
// with different states.
func RegisterKind(kind runbooks.Kind, x Executor) {
	if _, dup := executors[kind]; dup {
		panic(fmt.Sprintf("engine: step kind %q has two executors", kind))
	}
	for verb, want := range x.Verbs {
		if w, ok := verbWant(verb); ok && w != want {
			panic(fmt.Sprintf("engine: verb %q leads to %q in one kind and %q in another", verb, w, want))
		}
	}
	executors[kind] = x
}

// verbWant is the state a done action of this verb leaves a domain in.
func verbWant(verb string) (DomainState, bool) {
	for _, x := range executors {
		if w, ok := x.Verbs[verb]; ok {
			return w, true
		}
	}
	return "", false
}

// after is the state a step of a kind leads its domains to, as the kind's
// declaration says (runbooks.Precondition.After).
func after(k runbooks.Kind) DomainState {
	return DomainState(runbooks.SpecOf(k).Precondition(&runbooks.Step{Kind: k}, 0).After)
}

// The built-in executors, registered before any init function runs.
var _ = registerBuiltins()

func registerBuiltins() bool {
	off, on := after(runbooks.KindShutdown), after(runbooks.KindStart)
	for k, x := range map[runbooks.Kind]Executor{
		runbooks.KindManual: {Run: func(*Engine, context.Context, *runbooks.Step) error { return nil }, Verbs: NoActions},
		runbooks.KindCheck: {Run: func(e *Engine, ctx context.Context, st *runbooks.Step) error {
			return e.check(ctx, st, st.Check, true)
		}, Verbs: NoActions},
		runbooks.KindShutdown:  {Run: (*Engine).shutdown, Verbs: map[string]DomainState{"shutdown": off, "destroy": off}},
		runbooks.KindStart:     {Run: (*Engine).start, Verbs: map[string]DomainState{"start": on}},
		runbooks.KindDestroy:   powerExecutor(runbooks.KindDestroy, "destroy", func(hv Hypervisor) func(context.Context, string) error { return hv.Destroy }),
		runbooks.KindSuspend:   powerExecutor(runbooks.KindSuspend, "suspend", func(hv Hypervisor) func(context.Context, string) error { return hv.Suspend }),
		runbooks.KindResume:    powerExecutor(runbooks.KindResume, "resume", func(hv Hypervisor) func(context.Context, string) error { return hv.Resume }),
		runbooks.KindUndefine:  {Run: (*Engine).undefine, Verbs: map[string]DomainState{"undefine": ""}},
		runbooks.KindDefine:    {Run: (*Engine).define, Verbs: map[string]DomainState{"define": ""}},
		runbooks.KindSnapshot:  {Run: (*Engine).snapshot, Verbs: map[string]DomainState{"snapshot-create": "", "snapshot-revert": "", "snapshot-delete": ""}},
		runbooks.KindAutostart: {Run: (*Engine).autostart, Verbs: map[string]DomainState{"autostart-on": "", "autostart-off": ""}},
		// A command's effect cannot be read back: resume never re-runs it blindly.
		runbooks.KindExec: {Run: (*Engine).execCommand, Verbs: map[string]DomainState{"exec": ""}},
		runbooks.KindWait: {Run: (*Engine).wait, Verbs: NoActions},
	} {
		RegisterKind(k, x)
	}
	return true
}

// powerExecutor runs destroy, suspend or resume: one verb on each domain,
// leading it to the state the kind's declaration gives.
func powerExecutor(k runbooks.Kind, verb string, op func(Hypervisor) func(context.Context, string) error) Executor {
	want := after(k)
	return Executor{
		Run: func(e *Engine, ctx context.Context, st *runbooks.Step) error {
			return e.power(ctx, st, verb, want, op)
		},
		Verbs: map[string]DomainState{verb: want},
	}
}

// resolve turns a target into domain names: a glob or "all" is matched
// against the site's live domain list, sorted by name.
func (e *Engine) resolve(ctx context.Context, st *runbooks.Step, t runbooks.Target) ([]string, error) {
	if !t.Dynamic() {
		return t.Domains, nil
	}
	if doms, ok, err := e.shownAtGate(ctx, st, t); ok {
		return doms, err
	}
	out, err := e.match(ctx, t)
	if err != nil {
		return nil, err
	}
	return out, e.logf(ctx, st.ID, "info", "%s: %s", t, strings.Join(out, ", "))
}

// stateMatches is the one reading of "a domain in state got is in state
// want" that the readiness check and the simulator share: a blocked domain
// is running.
func stateMatches(got DomainState, want string) bool {
	return runbooks.Reached(string(got), want, false)
}

// check evaluates a check. With journal, each observation is logged; a wait
// step polling a check logs only the outcome.
func (e *Engine) check(ctx context.Context, st *runbooks.Step, c *runbooks.Check, journal bool) error {
	logf := func(format string, a ...any) error {
		if !journal {
			return nil
		}
		return e.logf(ctx, st.ID, "info", format, a...)
	}
	switch {
	case c.TCP != "":
		d := net.Dialer{Timeout: c.Timeout}
		conn, err := d.DialContext(ctx, "tcp", c.TCP)
		if err != nil {
			return fmt.Errorf("tcp %s does not answer: %w", c.TCP, err)
		}
		conn.Close()
		return logf("tcp %s answers", c.TCP)
	case c.File != "":
		fi, err := os.Stat(e.path(c.File))
		if err != nil {
			return fmt.Errorf("file %s: %w", c.File, err)
		}
		// The age first (cheap), then the checksum (reads the whole file);
		// the recovery point only once both passed: a refused backup
		// measures no RPO.
		age := time.Since(fi.ModTime())
		if c.MaxAge > 0 && age > c.MaxAge {
			return fmt.Errorf("file %s is %s old, older than the %s allowed", c.File, age.Round(time.Minute), c.MaxAge)
		}
		if c.MaxAge > 0 {
			if err := logf("file %s is %s old (at most %s)", c.File, age.Round(time.Second), c.MaxAge); err != nil {
				return err
			}
		}
		if c.SHA256 != "" || c.SHA256File != "" {
			if err := e.verifySHA256(ctx, st, c, journal); err != nil {
				return err
			}
		}
		return e.fileRecoveryPoint(ctx, st, c, fi.ModTime())
	case len(c.Command) > 0:
		res := e.runCommand(ctx, c.Command, c.Shell, c.Timeout, nil, nil, "", nil)
		if journal {
			if err := e.capture(ctx, st.ID, res); err != nil {
				return err
			}
		}
		if res.err != nil {
			return fmt.Errorf("check command %s: %w", CommandString(c.Command, c.Shell), res.err)
		}
		return logf("command %s exited 0", CommandString(c.Command, c.Shell))
	}
	doms, err := e.resolve(ctx, st, c.Target)
	if err != nil {
		return err
	}
	var bad []string
	for _, d := range doms {
		if c.Agent {
			err := e.do(ctx, func(ctx context.Context) error { return e.sites[c.Target.Site].AgentPing(ctx, d) })
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", d, err))
			} else if err := logf("%s/%s: guest agent answers", c.Target.Site, d); err != nil {
				return err
			}
			continue
		}
		s, err := e.domainState(ctx, c.Target.Site, d)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", d, err))
		case !stateMatches(s, c.State):
			bad = append(bad, fmt.Sprintf("%s is %s", d, s))
		}
		if err := logf("%s/%s: %s", c.Target.Site, d, describeState(s, err)); err != nil {
			return err
		}
	}
	if len(bad) > 0 {
		return e.siteError(c.Target.Site, "", fmt.Errorf("%d of %d domain(s) fail the check (%s): %s", len(bad), len(doms), c.Probe(), strings.Join(bad, "; ")))
	}
	return nil
}

func describeState(s DomainState, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return string(s)
}

// path resolves a path from the runbook against the runbook's directory.
func (e *Engine) path(p string) string {
	if filepath.IsAbs(p) || e.rb.File == "" {
		return p
	}
	if _, err := os.Stat(e.rb.File); err != nil {
		return p // a bundled runbook: paths are relative to the current directory
	}
	return filepath.Join(filepath.Dir(e.rb.File), p)
}

func (e *Engine) shutdown(ctx context.Context, st *runbooks.Step) error {
	s := st.Shutdown
	doms, err := e.resolve(ctx, st, s.Target)
	if err != nil {
		return err
	}
	// One at a time, in the order written, unless max_parallel says more:
	// then that many at once, still taken in order, and at most the site's
	// max_per_host at once on one host.
	limit := max(1, s.MaxParallel)
	hosts := e.predictHosts(ctx, s.Target.Site, doms, limit)
	return spread(ctx, doms, limit, e.perHost(s.Target.Site), hosts, func(ctx context.Context, d string) error {
		return e.shutdownOne(ctx, st, d)
	})
}

// shutdownOne shuts one domain down gracefully, and forces it off after
// the timeout when the runbook allows it.
func (e *Engine) shutdownOne(ctx context.Context, st *runbooks.Step, d string) error {
	s := st.Shutdown
	site := s.Target.Site
	hv := e.sites[site]
	state, err := e.domainState(ctx, site, d)
	if err != nil {
		return e.siteError(site, d, err)
	}
	if state == StateShutoff {
		return e.logf(ctx, st.ID, "info", "%s/%s is already shut off", site, d)
	}
	err = e.act(ctx, st, site, d, "shutdown", func(ctx context.Context) error {
		// A guest found "in shutdown" (a resumed run, a request already
		// sent) is not asked again: it is on its way.
		if state != StateShuttingDown {
			err := e.do(ctx, func(ctx context.Context) error { return hv.Shutdown(ctx, d) })
			if err != nil && !e.isOff(ctx, site, d) {
				return fmt.Errorf("request guest shutdown: %w", err)
			}
		}
		return e.waitState(ctx, site, d, StateShutoff, s.Timeout)
	})
	if err == nil || !errors.Is(err, ErrTimeout) {
		return err
	}
	if !s.Force {
		return fmt.Errorf("%w; the guest ignored the shutdown request and force is off: stop it by hand or set force: true", err)
	}
	if err := e.logf(ctx, st.ID, "warn", "%s/%s did not shut off within %s; forcing it off (force: true)", site, d, s.Timeout); err != nil {
		return err
	}
	return e.act(ctx, st, site, d, "destroy", func(ctx context.Context) error {
		if err := e.do(ctx, func(ctx context.Context) error { return hv.Destroy(ctx, d) }); err != nil && !e.isOff(ctx, site, d) {
			return fmt.Errorf("force off: %w", err)
		}
		return e.waitState(ctx, site, d, StateShutoff, time.Minute)
	})
}

// isOff reports whether a domain is shut off now: a shutdown or destroy
// that finds its target already off (it got there meanwhile) succeeded.
func (e *Engine) isOff(ctx context.Context, site, d string) bool {
	s, err := e.domainState(ctx, site, d)
	return err == nil && s == StateShutoff
}

func (e *Engine) start(ctx context.Context, st *runbooks.Step) error {
	s := st.Start
	groups := s.Groups
	if s.Glob != "" || s.All {
		doms, err := e.resolve(ctx, st, s.Target())
		if err != nil {
			return err
		}
		groups = nil
		for _, d := range doms {
			groups = append(groups, []string{d})
		}
	}
	run := func(ctx context.Context, d string) error { return e.startOne(ctx, st, s, d) }
	perHost := e.perHost(s.Site)
	if s.Listed && s.MaxParallel > 1 {
		// domains: started one by one; with max_parallel, that many at a
		// time, in the order written.
		doms := flatten(groups)
		return spread(ctx, doms, s.MaxParallel, perHost, e.predictHosts(ctx, s.Site, doms, s.MaxParallel), run)
	}
	var hosts map[string]string
	if perHost > 0 && len(groups) > 0 {
		// One prediction for the whole step: a group waits for the one
		// before it, the listing would not change much in between.
		hosts = e.predictHosts(ctx, s.Site, flatten(groups), max(s.MaxParallel, maxLen(groups)))
	}
	for gi, group := range groups {
		if len(s.Groups) > 1 {
			if err := e.logf(ctx, st.ID, "info", "group %d of %d: %s", gi+1, len(groups), strings.Join(group, ", ")); err != nil {
				return err
			}
		}
		// A group starts together: at most max_parallel of it at once
		// (default: the whole group; 1: one at a time, in the order
		// written), and at most max_per_host on one host.
		limit := s.MaxParallel
		if limit <= 0 {
			limit = len(group)
		}
		if err := spread(ctx, group, limit, perHost, hosts, run); err != nil {
			return err
		}
	}
	return nil
}

// maxLen is the size of the largest group.
func maxLen(groups [][]string) int {
	n := 0
	for _, g := range groups {
		n = max(n, len(g))
	}
	return n
}

func (e *Engine) startOne(ctx context.Context, st *runbooks.Step, s *runbooks.Start, d string) error {
	hv := e.sites[s.Site]
	state, err := e.domainState(ctx, s.Site, d)
	if err != nil {
		return e.siteError(s.Site, d, err)
	}
	if stateMatches(state, "running") {
		if err := e.logf(ctx, st.ID, "info", "%s/%s is already running", s.Site, d); err != nil {
			return err
		}
	} else {
		err = e.act(ctx, st, s.Site, d, "start", func(ctx context.Context) error {
			if err := e.do(ctx, func(ctx context.Context) error { return hv.Start(ctx, d) }); err != nil {
				return fmt.Errorf("start: %w", err)
			}
			return e.waitState(ctx, s.Site, d, StateRunning, s.Timeout)
		})
		if err != nil {
			return err
		}
	}
	if s.Wait != "agent" {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, e.scaled(s.Timeout))
	defer cancel()
	var last error
	err = Wait(wctx, e.opts.Poll, func(ctx context.Context) (bool, error) {
		last = e.do(ctx, func(ctx context.Context) error { return hv.AgentPing(ctx, d) })
		if errors.Is(last, ErrNoAgent) {
			return false, last // no agent channel: waiting cannot help
		}
		return last == nil, nil
	})
	if errors.Is(err, ErrNoAgent) {
		return e.siteError(s.Site, d, fmt.Errorf("wait for the guest agent: %w", err))
	}
	if err != nil {
		return e.siteError(s.Site, d, fmt.Errorf("%w: guest agent did not answer within %s (last: %v)", ErrTimeout, s.Timeout, last))
	}
	return e.logf(ctx, st.ID, "info", "%s/%s: guest agent answers", s.Site, d)
}

// power runs destroy, suspend or resume on each domain, skipping domains
// already in the wanted state (so a resumed run does not act twice).
func (e *Engine) power(ctx context.Context, st *runbooks.Step, verb string, want DomainState, op func(Hypervisor) func(context.Context, string) error) error {
	t := *st.Power
	hv := e.sites[t.Site]
	doms, err := e.resolve(ctx, st, t)
	if err != nil {
		return err
	}
	for _, d := range doms {
		state, err := e.domainState(ctx, t.Site, d)
		if err != nil {
			return e.siteError(t.Site, d, err)
		}
		if stateMatches(state, string(want)) {
			if err := e.logf(ctx, st.ID, "info", "%s/%s is already %s", t.Site, d, state); err != nil {
				return err
			}
			continue
		}
		err = e.act(ctx, st, t.Site, d, verb, func(ctx context.Context) error {
			if err := e.do(ctx, func(ctx context.Context) error { return op(hv)(ctx, d) }); err != nil {
				return fmt.Errorf("%s: %w", verb, err)
			}
			return e.waitState(ctx, t.Site, d, want, time.Minute)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) undefine(ctx context.Context, st *runbooks.Step) error {
	t := *st.Power
	hv := e.sites[t.Site]
	doms, err := e.resolve(ctx, st, t)
	if err != nil {
		return err
	}
	for _, d := range doms {
		state, err := e.domainState(ctx, t.Site, d)
		switch {
		case errors.Is(err, ErrDomainNotFound):
			if err := e.logf(ctx, st.ID, "info", "%s/%s is not defined (already undefined)", t.Site, d); err != nil {
				return err
			}
			continue
		case err != nil:
			return e.siteError(t.Site, d, err)
		case state != StateShutoff:
			return e.siteError(t.Site, d, fmt.Errorf("%w: it is %s; stop it before undefining it", ErrInvalidOperation, state))
		}
		err = e.act(ctx, st, t.Site, d, "undefine", func(ctx context.Context) error {
			return e.do(ctx, func(ctx context.Context) error { return hv.Undefine(ctx, d) })
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) define(ctx context.Context, st *runbooks.Step) error {
	df := st.Define
	hv := e.sites[df.Site]
	for _, file := range df.XML {
		b, err := os.ReadFile(e.path(file))
		if err != nil {
			return fmt.Errorf("read domain XML: %w", err)
		}
		name := DomainNameFromXML(string(b))
		if name == "" {
			return fmt.Errorf("domain XML %s has no <name>", file)
		}
		err = e.act(ctx, st, df.Site, name, "define", func(ctx context.Context) error {
			return e.do(ctx, func(ctx context.Context) error { _, err := hv.Define(ctx, string(b)); return err })
		})
		if err != nil {
			return err
		}
	}
	if df.CopyFrom == "" {
		return nil
	}
	src := e.sites[df.CopyFrom]
	for _, d := range df.Domains {
		var x string
		err := e.do(ctx, func(ctx context.Context) (err error) { x, err = src.DomainXML(ctx, d); return err })
		if err != nil {
			return e.siteError(df.CopyFrom, d, fmt.Errorf("read definition to copy: %w", err))
		}
		err = e.act(ctx, st, df.Site, d, "define", func(ctx context.Context) error {
			return e.do(ctx, func(ctx context.Context) error { _, err := hv.Define(ctx, x); return err })
		})
		if err != nil {
			return err
		}
		if err := e.logf(ctx, st.ID, "info", "%s/%s defined from the definition at %s", df.Site, d, df.CopyFrom); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) snapshot(ctx context.Context, st *runbooks.Step) error {
	s := st.Snapshot
	return e.eachDomain(ctx, st, s.Target, "snapshot-"+string(s.Action), func(ctx context.Context, hv Hypervisor, d string) error {
		return hv.Snapshot(ctx, d, SnapshotOp(s.Action), s.Name)
	})
}

func (e *Engine) autostart(ctx context.Context, st *runbooks.Step) error {
	a := st.Autostart
	verb := "autostart-off"
	if a.Enabled {
		verb = "autostart-on"
	}
	return e.eachDomain(ctx, st, a.Target, verb, func(ctx context.Context, hv Hypervisor, d string) error {
		return hv.SetAutostart(ctx, d, a.Enabled)
	})
}

// eachDomain performs one journaled action on each domain of a target, in
// order, stopping at the first failure.
func (e *Engine) eachDomain(ctx context.Context, st *runbooks.Step, t runbooks.Target, verb string, op func(context.Context, Hypervisor, string) error) error {
	hv := e.sites[t.Site]
	doms, err := e.resolve(ctx, st, t)
	if err != nil {
		return err
	}
	for _, d := range doms {
		err := e.act(ctx, st, t.Site, d, verb, func(ctx context.Context) error {
			return e.do(ctx, func(ctx context.Context) error { return op(ctx, hv, d) })
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) wait(ctx context.Context, st *runbooks.Step) error {
	w := st.Wait
	if w.Until == nil {
		if err := e.logf(ctx, st.ID, "info", "waiting %s", w.Duration); err != nil {
			return err
		}
		t := time.NewTimer(e.scaled(w.Duration))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	if err := e.logf(ctx, st.ID, "info", "waiting until %s (at most %s)", w.Until.Probe(), w.Timeout); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, e.scaled(w.Timeout))
	defer cancel()
	var last error
	interval := max(e.opts.Poll, e.scaled(2*time.Second))
	err := Wait(wctx, interval, func(ctx context.Context) (bool, error) {
		last = e.check(ctx, st, w.Until, false)
		if errors.Is(last, errStopped) {
			return false, last
		}
		return last == nil, nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("%w: %s did not hold within %s (last: %v)", ErrTimeout, w.Until.Probe(), w.Timeout, last)
		}
		return err
	}
	return e.logf(ctx, st.ID, "info", "%s holds", w.Until.Probe())
}

func flatten(groups [][]string) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
