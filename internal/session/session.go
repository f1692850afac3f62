// Package session is one console driving one run: it connects the sites,
// checks they are ready, creates or picks up the run in the audit trail,
// holds the run's lease with a heartbeat, hands approvals sent from other
// sessions to the engine, and runs the engine with its consumer (the
// terminal UI or plain lines). cmd/repli only turns flags into a Request.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// Errors a session ends with; cmd maps them to exit codes. What happened
// has already been said to the operator when they are returned.
var (
	// ErrStopped: the run stopped before its end and can be resumed.
	ErrStopped = errors.New("the run stopped before its end")
	// ErrFailed: the run ended, failed or aborted.
	ErrFailed = errors.New("the run did not succeed")
)

// UsageError is bad input: flags, files, a run that cannot be driven from
// here. Nothing was done.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(err error) error {
	if err == nil {
		return nil
	}
	var u *UsageError
	if errors.As(err, &u) {
		return err
	}
	return &UsageError{err}
}

// Console is the person and the terminal driving the run.
type Console struct {
	Operator  string
	Host      string
	SSHClient string
	Version   string
	In        io.Reader `json:"-"`
	Out, Err  io.Writer `json:"-"`
	// TUI: the full-screen terminal UI, else plain lines.
	TUI      bool
	Renderer *lipgloss.Renderer `json:"-"`
	// Headless: this is the detached engine process; nobody is at its
	// terminal. Consoles attach to it through its socket (see Attach).
	Headless bool
	// Ready, in the engine process, is told the run's id once the run is
	// in the trail, its lease held and its socket listening.
	Ready func(runID int64) `json:"-"`
	// show, when set, shows the run in the console's program, already on
	// the screen (its preflight passed there), instead of a program of its
	// own; it returns when the screen closes.
	show func(ui.Driver, ui.Config) error
}

// Name is how the lease names this console.
func (c Console) Name() string {
	if c.Headless {
		return "detached engine"
	}
	if c.TUI {
		return "tui"
	}
	return "plain"
}

// Request is a run to start or resume.
type Request struct {
	DB string
	// URIs are the sites' URIs after --site overrides and config.
	URIs        map[string]string
	AutoApprove bool
	Vars        map[string]string
	SecretVars  map[string]string
	// Override starts although the preflight finds blockers (recorded).
	Override string
	// Simulated lab knobs (sim:// sites only).
	Speed  float64
	Seed   int64
	Faults []string
	// Assess checks the sites' readiness before anything starts.
	Assess Assessor `json:"-"`
	// Replica is the URL the trail is replicated to (Litestream); NoReplica
	// the reason there is none (recorded).
	Replica   string
	NoReplica string
	// Detach runs the engine in a process of its own, which outlives this
	// console; the console attaches to it. Source is how that process
	// loads the runbook again.
	Detach bool
	Source Source
}

// Source is a runbook as the command line named it: what the engine process
// loads again.
type Source struct {
	Path       string
	Vars       []string
	SecretVars []string
}

// Readiness is what the preflight check found.
type Readiness struct {
	Ready    bool
	Blockers []string
	Warnings []string
	// Text is the readiness table, as repli check prints it.
	Text string
}

// Assessor checks the sites are ready for a run of rb in mode; done tells
// the steps a resumed run is past.
type Assessor func(ctx context.Context, rb *runbooks.Runbook, mode string, done map[string]bool, uris map[string]string, sites map[string]engine.Hypervisor) *Readiness

// Start runs a runbook from its first step.
func Start(ctx context.Context, rb *runbooks.Runbook, mode string, req Request, con Console) error {
	if req.Detach {
		return startDetached(ctx, rb, mode, req, con)
	}
	if con.TUI && con.show == nil {
		// The engine inside this console, shown in its one program: the
		// preflight on its screen, then the run.
		run := func(ctx context.Context, c ui.Choice, con Console) error {
			m, err := rb.RunMode(c.Mode, true)
			if err != nil {
				return usage(err)
			}
			r := req
			r.Override = c.Override
			return Start(ctx, rb, m, r, con)
		}
		check := Checker(rb, nil, req)
		if req.Override != "" {
			check = nil // overridden on the command line: nothing to ask
		}
		return console(ctx, ui.Choice{Kind: ui.ChoiceStart, Runbook: rb.Name, Mode: mode, Override: req.Override}, check, openInProcess(run), con)
	}
	sites, lab, err := Connect(ctx, rb, req.URIs, req.Speed, req.Seed, req.Faults)
	if err != nil {
		return usage(err)
	}
	defer closeAll(sites)
	pre, _, err := preflight(ctx, rb, mode, nil, req, sites, con)
	if err != nil {
		return err
	}
	rl, err := replicaCheck(req, mode, Simulated(req.URIs), con.Operator)
	if err != nil {
		return err
	}
	pre = append(pre, rl...)
	db, err := store.Open(ctx, req.DB)
	if err != nil {
		return usage(err)
	}
	defer db.Close()
	rep, err := startReplica(ctx, db.Path(), req, con)
	if err != nil {
		return err
	}
	defer rep.close()
	opts := con.options(req)
	fmt.Fprintln(con.Err, "repli: "+db.SignAs(ctx, opts.Operator))
	opts.Mode, opts.Preflight = mode, pre
	if lab != nil {
		opts.TimeScale = lab.Speed()
	}
	runID, err := db.CreateRun(ctx, store.RunInfo{
		Runbook: rb.Name, Title: rb.Title, File: rb.File, SHA256: rb.SHA256(), Mode: mode,
		Operator: opts.Operator, Host: opts.Host, AutoApprove: req.AutoApprove, RTOTarget: rb.RTO,
	})
	if err != nil {
		return usage(err)
	}
	opts.RunID = runID
	if lab != nil {
		if err := lab.Persist(sim.StatePath(db.Path(), runID), false); err != nil {
			return usage(err)
		}
	}
	lease, err := db.AcquireLease(ctx, runID, store.LocalHolder(opts.Operator, con.Name()))
	if err != nil {
		return usage(err)
	}
	return drive(ctx, rb, sites, db, lease, opts, con, rep)
}

// Resume carries on with a run from its audit trail, with the runbook it was
// started with. takeOver, when given, takes the run from a console that is
// gone (its lease is stale), and is recorded.
func Resume(ctx context.Context, id int64, takeOver string, req Request, con Console, configure func(*runbooks.Runbook) error) error {
	if req.Detach {
		return resumeDetached(ctx, id, takeOver, req, con)
	}
	if _, err := Ping(ctx, req.DB, id); err == nil {
		// Its engine runs detached: this console attaches to it.
		fmt.Fprintf(con.Err, "repli: run %d is driven by its detached engine; attaching to it\n", id)
		return Attach(ctx, req.DB, id, takeOver, con)
	}
	if con.TUI && con.show == nil {
		// The engine inside this console, shown in its one program. The
		// resumed run's preflight is the session's: blockers need
		// --force-unready on the command line.
		run := func(ctx context.Context, _ ui.Choice, con Console) error {
			return Resume(ctx, id, takeOver, req, con, configure)
		}
		return console(ctx, ui.Choice{Kind: ui.ChoiceResume, RunID: id}, nil, openInProcess(run), con)
	}
	db, err := store.Open(ctx, req.DB)
	if err != nil {
		return usage(err)
	}
	defer db.Close()
	run, err := db.Run(ctx, id)
	if err != nil {
		return usage(err)
	}
	if run.Outcome != engine.OutcomeRunning {
		return usage(fmt.Errorf("run %d already ended (%s); there is nothing to resume", id, run.Outcome))
	}
	lease, err := takeLease(ctx, db, id, takeOver, con)
	if err != nil {
		return err
	}
	events, err := db.Events(ctx, id)
	if err != nil {
		return usage(err)
	}
	rb, prog, err := engine.LoadRun(events)
	if err != nil {
		return usage(fmt.Errorf("run %d: %w", id, err))
	}
	if configure != nil {
		if err := configure(rb); err != nil {
			return err
		}
	}
	fmt.Fprintln(con.Err, "repli: "+db.SignAs(ctx, con.Operator))
	uris, err := resumedURIs(id, rb, prog, req.URIs)
	if err != nil {
		return err
	}
	req.URIs = uris
	sites, lab, err := Connect(ctx, rb, uris, prog.Started.TimeScale, 1, nil)
	if err != nil {
		return usage(err)
	}
	defer closeAll(sites)
	// The simulated sites as the run left them, before the preflight reads
	// them: a new lab would look like the start of the run.
	if lab != nil {
		if err := lab.Persist(sim.StatePath(db.Path(), id), true); err != nil {
			return usage(err)
		}
	}
	done := map[string]bool{}
	for sid, s := range prog.Steps {
		done[sid] = s.Passed
	}
	pre, _, err := preflight(ctx, rb, prog.Started.Mode, done, req, sites, con)
	if err != nil {
		return err
	}
	rl, err := replicaCheck(req, prog.Started.Mode, Simulated(uris), con.Operator)
	if err != nil {
		return err
	}
	pre = append(pre, rl...)
	rep, err := startReplica(ctx, db.Path(), req, con)
	if err != nil {
		return err
	}
	defer rep.close()
	opts := con.options(req)
	opts.RunID, opts.Mode, opts.Resume = id, prog.Started.Mode, prog
	opts.Preflight = pre
	opts.TimeScale = prog.Started.TimeScale
	opts.Vars, opts.SecretVars = prog.Started.Vars, prog.Started.SecretVars
	return drive(ctx, rb, sites, db, lease, opts, con, rep)
}

// takeLease makes this console the run's one driver, taking a stale lease
// over only when the operator gave a reason.
func takeLease(ctx context.Context, db *store.Store, id int64, takeOver string, con Console) (*store.Lease, error) {
	holder := store.LocalHolder(con.Operator, con.Name())
	lease, err := db.AcquireLease(ctx, id, holder)
	var held *store.LeaseHeldError
	switch {
	case errors.As(err, &held) && held.Stale && takeOver != "":
		lease, err = db.TakeOverLease(ctx, id, holder, takeOver)
		if err != nil {
			return nil, usage(err)
		}
		fmt.Fprintf(con.Err, "repli: took run %d over from %s (recorded in the audit trail)\n", id, safetext.Line(held.Holder.String()))
	case errors.As(err, &held) && held.Stale:
		return nil, usage(fmt.Errorf("%w\nto drive it from here, say why: repli resume %d --take-over \"the reason\"", err, id))
	case err != nil:
		return nil, usage(err)
	}
	return lease, nil
}

// Connect opens a Hypervisor for every site: real sites through libvirt,
// sim:// sites on one simulated lab (returned, to persist its state).
func Connect(ctx context.Context, rb *runbooks.Runbook, uris map[string]string, speed float64, seed int64, faults []string) (map[string]engine.Hypervisor, *sim.Lab, error) {
	sites := map[string]engine.Hypervisor{}
	var lab *sim.Lab
	// Real sites are opened together. Open waits up to 2s for the first
	// connections (they go on in the background after that): a site that
	// does not answer (the primary, in a disaster) must not hold the others
	// up, nor stop the run.
	type opened struct {
		site string
		hv   *libvirt.Site
		err  error
	}
	var real []chan opened
	var errs []error
	for _, s := range rb.Sites {
		uri := uris[s.Name]
		if _, ok := sim.SiteName(uri); !ok {
			hosts := s.URIs
			if uri != s.URI || len(hosts) == 0 {
				hosts = []string{uri} // --site NAME=URI replaces the site's hosts
			}
			ch := make(chan opened, 1)
			real = append(real, ch)
			go func() {
				octx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				hv, err := libvirt.Open(octx, s.Name, hosts, libvirt.Options{})
				ch <- opened{s.Name, hv, err}
			}()
			continue
		}
		if lab == nil {
			lab = sim.NewLab(seed, speed)
			lab.Populate(rb, uris)
		}
		hv, err := lab.Hypervisor(uri)
		if err != nil {
			errs = append(errs, fmt.Errorf("site %s: %w", s.Name, err))
			continue
		}
		sites[s.Name] = hv
	}
	for _, ch := range real {
		o := <-ch
		if o.err != nil {
			errs = append(errs, o.err)
			continue
		}
		sites[o.site] = o.hv
	}
	if err := errors.Join(errs...); err != nil {
		closeAll(sites)
		return nil, nil, err
	}
	if lab == nil && (len(faults) > 0 || speed != 1) {
		closeAll(sites)
		return nil, nil, errors.New("--fault and --speed apply to simulated sites (sim://) only")
	}
	for _, spec := range faults {
		if err := lab.Inject(spec); err != nil {
			closeAll(sites)
			return nil, nil, err
		}
	}
	return sites, lab, nil
}

func closeAll(sites map[string]engine.Hypervisor) {
	for _, hv := range sites {
		hv.Close()
	}
}

// preflight checks the sites are ready for the run before anything happens.
// Blockers refuse the run unless the operator overrides them with a reason;
// blockers, warnings and the override are recorded with the run.
func preflight(ctx context.Context, rb *runbooks.Runbook, mode string, done map[string]bool, req Request, sites map[string]engine.Hypervisor, con Console) ([]string, string, error) {
	if req.Assess == nil {
		return nil, req.Override, nil
	}
	rep := req.Assess(ctx, rb, mode, done, req.URIs, sites)
	var lines []string
	for _, w := range rep.Warnings {
		lines = append(lines, "preflight warning: "+w)
	}
	// In the terminal UI the operator has read the readiness on the
	// console's preflight screen (ui.Console) before this: the override,
	// if one was typed there, is in the request.
	override := req.Override
	if rep.Ready {
		return lines, override, nil
	}
	if override == "" {
		fmt.Fprint(con.Err, rep.Text)
		if con.Headless {
			// The console that started this engine shows the readiness.
			return nil, "", usage(fmt.Errorf("%sthe sites are not ready for %s in %s mode; fix the blockers above, or start anyway with --force-unready \"the reason\" (recorded)", rep.Text, rb.Name, mode))
		}
		return nil, "", usage(fmt.Errorf("the sites are not ready for %s in %s mode; fix the blockers above, or start anyway with --force-unready \"the reason\" (recorded)", rb.Name, mode))
	}
	for _, b := range rep.Blockers {
		lines = append(lines, "preflight BLOCKER overridden: "+b)
	}
	lines = append(lines, fmt.Sprintf("started although not ready, by %s: %s", con.Operator, override))
	return lines, override, nil
}

// options are the engine options that describe this console and request.
func (c Console) options(req Request) engine.Options {
	return engine.Options{
		Operator:    c.Operator,
		Host:        c.Host,
		SSHClient:   c.SSHClient,
		Version:     c.Version,
		URIs:        req.URIs,
		AutoApprove: req.AutoApprove,
		Vars:        req.Vars,
		SecretVars:  req.SecretVars,
	}
}

// ConsoleFromEnv describes the console this process runs in.
func ConsoleFromEnv(operator, version string) Console {
	host, _ := os.Hostname()
	return Console{Operator: operator, Host: host, SSHClient: os.Getenv("SSH_CONNECTION"), Version: version, In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
}

// resumedURIs are the URIs a resumed run reaches its sites at: those it was
// started with, unless overridden now (--site).
func resumedURIs(id int64, rb *runbooks.Runbook, prog *engine.Progress, overrides map[string]string) (map[string]string, error) {
	uris := map[string]string{}
	for _, s := range rb.Sites {
		uris[s.Name] = s.URI
	}
	for name, uri := range prog.Started.Sites {
		if _, ok := uris[name]; ok {
			uris[name] = uri
		}
	}
	for name, uri := range overrides {
		if rb.Site(name) == nil {
			return nil, usage(fmt.Errorf("--site %s: run %d's runbook has no site %q (its sites: %s)", name, id, name, strings.Join(rb.SiteNames(), ", ")))
		}
		uris[name] = uri
	}
	return uris, nil
}
