package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

type runFlags struct {
	db          string
	sites       []string
	autoApprove bool
	plain       bool
	mode        string
	speed       float64
	seed        int64
	faults      []string
	vars        []string
	secretVars  []string
	override    string
}

var modes = runbooks.Modes

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a runbook against its sites, step by step, through its gates",
		Long: `Run a runbook. The terminal UI opens when stdout is a terminal; otherwise,
or with --plain, progress is printed one line per event and gates are answered
on stdin. Every action is written to the audit trail before it happens.

FILE is a runbook file, or the name of a bundled runbook (annual-pra-test).

Exit status: 0 the run succeeded, 1 it failed or was aborted, 2 bad input,
3 it stopped before its end (interrupted) and can be resumed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRunbook(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	dbFlag(cmd, &f.db)
	fl.StringArrayVar(&f.sites, "site", nil, "override a site's URI: NAME=URI (repeatable)")
	fl.BoolVar(&f.autoApprove, "auto-approve", false, "answer every gate and tick every checklist item (recorded as such)")
	fl.BoolVar(&f.plain, "plain", false, "print plain progress lines instead of the terminal UI")
	fl.StringVar(&f.mode, "mode", "test", "run mode: "+strings.Join(modes, ", "))
	fl.StringArrayVar(&f.vars, "var", nil, "override a runbook var: NAME=VALUE, a list as a,b,c (repeatable; recorded)")
	secretVarFlag(cmd, &f.secretVars)
	fl.StringVar(&f.override, "force-unready", "", "start although the preflight check finds blockers, giving the reason (recorded)")
	simFlags(cmd, &f, 1)
	return cmd
}

// simFlags are the knobs of the simulated lab (sim:// sites only).
func simFlags(cmd *cobra.Command, f *runFlags, speed float64) {
	fl := cmd.Flags()
	fl.Float64Var(&f.speed, "speed", speed, "simulated sites only: run the lab and the runbook's timeouts this many times faster")
	fl.Int64Var(&f.seed, "seed", 1, "simulated sites only: seed of the lab's timings")
	fl.StringArrayVar(&f.faults, "fault", nil, "simulated sites only: inject a fault, e.g. ignore-shutdown=primary/app-02, fail-start=secondary/web-01, unreachable=primary")
}

func runRunbook(cmd *cobra.Command, path string, f runFlags) error {
	rb, err := loadRunbookSecrets(path, f.vars, f.secretVars)
	if err != nil {
		return err
	}
	return execute(cmd, rb, f)
}

// siteURIs applies --site NAME=URI overrides to the runbook's sites.
func siteURIs(rb *runbooks.Runbook, overrides []string) (map[string]string, error) {
	uris := map[string]string{}
	for _, s := range rb.Sites {
		uris[s.Name] = s.URI
	}
	for _, o := range overrides {
		name, uri, ok := strings.Cut(o, "=")
		if !ok || name == "" || uri == "" {
			return nil, fmt.Errorf("--site %q: write it as NAME=URI, e.g. --site primary=qemu+ssh://kvm1/system", o)
		}
		if rb.Site(name) == nil {
			return nil, fmt.Errorf("--site %q: the runbook has no site %q (its sites: %s)", o, name, strings.Join(rb.SiteNames(), ", "))
		}
		r, err := resolveSiteURI(uri)
		if err != nil {
			return nil, err
		}
		uris[name] = r
	}
	return uris, nil
}

// connect opens a Hypervisor for every site.
func connect(ctx context.Context, rb *runbooks.Runbook, uris map[string]string, f runFlags) (map[string]engine.Hypervisor, *sim.Lab, error) {
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
			lab = sim.NewLab(f.seed, f.speed)
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
		for _, hv := range sites {
			hv.Close()
		}
		return nil, nil, err
	}
	if lab == nil && (len(f.faults) > 0 || f.speed != 1) {
		return nil, nil, errors.New("--fault and --speed apply to simulated sites (sim://) only")
	}
	for _, spec := range f.faults {
		if err := lab.Inject(spec); err != nil {
			return nil, nil, err
		}
	}
	return sites, lab, nil
}

func execute(cmd *cobra.Command, rb *runbooks.Runbook, f runFlags) error {
	ctx := cmd.Context()
	mode, err := rb.RunMode(f.mode, cmd.Flags().Changed("mode"))
	if err != nil {
		return withCode(exitUsage, err)
	}
	f.mode = mode
	uris, err := siteURIs(rb, f.sites)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := requireSiteURIs(rb, uris); err != nil {
		return err
	}
	sites, lab, err := connect(ctx, rb, uris, f)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer closeAll(sites)
	pre, err := preflight(cmd, rb, f.mode, nil, uris, sites, f.override, !f.plain && isTerminal(cmd.OutOrStdout()))
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, dbPath(f.db))
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer db.Close()

	opts := consoleOptions(uris, f.autoApprove)
	fmt.Fprintln(cmd.ErrOrStderr(), "repli: "+db.SignAs(ctx, opts.Operator))
	opts.Mode = f.mode
	opts.Vars, _ = parseVars(f.vars)
	opts.SecretVars, _ = parseSecretVars(f.secretVars)
	opts.Preflight = pre
	if lab != nil {
		opts.TimeScale = lab.Speed()
	}
	runID, err := db.CreateRun(ctx, store.RunInfo{
		Runbook: rb.Name, Title: rb.Title, File: rb.File, SHA256: rb.SHA256(), Mode: f.mode,
		Operator: opts.Operator, Host: opts.Host, AutoApprove: f.autoApprove, RTOTarget: rb.RTO,
	})
	if err != nil {
		return withCode(exitUsage, err)
	}
	opts.RunID = runID
	if lab != nil {
		if err := lab.Persist(sim.StatePath(db.Path(), runID), false); err != nil {
			return withCode(exitUsage, err)
		}
	}
	lease, err := db.AcquireLease(ctx, runID, store.LocalHolder(opts.Operator, consoleName(cmd, f.plain)))
	if err != nil {
		return withCode(exitUsage, err)
	}
	return drive(cmd, rb, sites, db, lease, opts, f.plain)
}

func consoleName(cmd *cobra.Command, plain bool) string {
	if plain || !isTerminal(cmd.OutOrStdout()) {
		return "plain"
	}
	return "tui"
}

// preflight checks the sites are ready for the run before anything happens.
// Blockers refuse the run unless the operator overrides them with a reason;
// blockers, warnings and the override are recorded with the run.
func preflight(cmd *cobra.Command, rb *runbooks.Runbook, mode string, done map[string]bool, uris map[string]string, sites map[string]engine.Hypervisor, override string, tui bool) ([]string, error) {
	rep := assessRunbook(cmd.Context(), rb, mode, done, uris, sites, 5*time.Second)
	var lines []string
	for _, w := range rep.Warnings {
		lines = append(lines, "preflight warning: "+w)
	}
	// In the terminal UI, the operator reads the readiness before anything
	// starts: warnings to acknowledge, or blockers to override with a reason.
	if tui && (!rep.Ready || len(rep.Warnings) > 0) && override == "" {
		var b strings.Builder
		printReadiness(&b, rep)
		m := ui.NewPreflightModel(b.String(), rep.Ready, ui.NewRenderer(os.Stdout))
		if _, err := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(cmd.Context())).Run(); err != nil {
			return nil, withCode(exitUsage, errors.New("cancelled before the run started"))
		}
		start, reason := m.Decision()
		if !start {
			return nil, withCode(exitUsage, errors.New("cancelled at the preflight check; nothing was started"))
		}
		override = reason
	}
	if rep.Ready {
		return lines, nil
	}
	if override == "" {
		printReadiness(cmd.ErrOrStderr(), rep)
		return nil, withCode(exitUsage, fmt.Errorf("the sites are not ready for %s in %s mode; fix the blockers above, or start anyway with --force-unready \"the reason\" (recorded)", rb.Name, mode))
	}
	for _, b := range rep.Blockers {
		lines = append(lines, "preflight BLOCKER overridden: "+b)
	}
	lines = append(lines, fmt.Sprintf("started although not ready, by %s: %s", operator(), override))
	return lines, nil
}

// consoleOptions are the engine options that describe this console.
func consoleOptions(uris map[string]string, auto bool) engine.Options {
	host, _ := os.Hostname()
	return engine.Options{
		Operator:    operator(),
		Host:        host,
		SSHClient:   os.Getenv("SSH_CONNECTION"),
		Version:     repliVersion(),
		URIs:        uris,
		AutoApprove: auto,
	}
}

func closeAll(sites map[string]engine.Hypervisor) {
	for _, hv := range sites {
		hv.Close()
	}
}

// drive runs the engine with its consumer (the TUI or the plain printer)
// and maps how it ended to an exit code.
func drive(cmd *cobra.Command, rb *runbooks.Runbook, sites map[string]engine.Hypervisor, db *store.Store, lease *store.Lease, opts engine.Options, plain bool) error {
	defer lease.Release(context.WithoutCancel(cmd.Context()))
	eng, err := engine.New(rb, sites, db, opts)
	if err != nil {
		return withCode(exitUsage, err)
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	go heartbeat(ctx, cmd, lease, cancel)
	go forwardApprovals(ctx, db, eng, opts.RunID)
	type result struct {
		outcome engine.Outcome
		err     error
	}
	done := make(chan result, 1)
	go func() {
		o, err := eng.Run(ctx)
		done <- result{o, err}
	}()

	out := cmd.OutOrStdout()
	if !plain && isTerminal(out) {
		err = ui.Run(ctx, eng, ui.Config{DB: db.Path(), Operator: opts.Operator, Renderer: ui.NewRenderer(os.Stdout),
			Sites:  engine.Monitor(ctx, sites, 2*time.Second),
			Anchor: func() string { return anchor(context.WithoutCancel(ctx), db, opts.RunID) }})
		cancel() // the UI is gone: stop the run where it is, resumable
	} else {
		err = printPlain(ctx, out, cmd.InOrStdin(), eng, db, cancel)
	}
	res := <-done
	switch {
	case errors.Is(res.err, engine.ErrRunEnded):
		return withCode(exitUsage, fmt.Errorf("run %d: %w", opts.RunID, res.err))
	case res.err != nil:
		fmt.Fprintf(cmd.ErrOrStderr(), "repli: run %d stopped before its end: %v\n", opts.RunID, res.err)
		fmt.Fprintf(cmd.ErrOrStderr(), "repli: everything done so far is in %s; carry on with: repli resume %d%s\n", db.Path(), opts.RunID, dbHint(db.Path()))
		return withCode(exitStopped, errSilent)
	case err != nil:
		return withCode(exitUsage, err)
	case res.outcome != engine.OutcomeSucceeded:
		return withCode(exitFailed, errSilent)
	}
	return nil
}

// heartbeat keeps the run's lease alive, so another console can tell this
// one is still driving. If the lease was taken over, this console stops.
func heartbeat(ctx context.Context, cmd *cobra.Command, lease *store.Lease, stop func()) {
	t := time.NewTicker(store.LeaseHeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := lease.Heartbeat(ctx); errors.Is(err, store.ErrLeaseLost) {
				fmt.Fprintf(cmd.ErrOrStderr(), "repli: %v: another console took this run over; stopping here\n", err)
				stop()
				return
			}
		}
	}
}

// forwardApprovals hands approvals sent with repli approve to the engine,
// which checks and journals them.
func forwardApprovals(ctx context.Context, db *store.Store, eng *engine.Engine, runID int64) {
	var last int64
	if as, err := db.Approvals(ctx, runID, 0); err == nil && len(as) > 0 {
		last = as[len(as)-1].ID // approvals sent before this console started answered an older question
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		as, err := db.Approvals(ctx, runID, last)
		if err != nil {
			continue
		}
		for _, a := range as {
			last = a.ID
			if eng.Send(engine.Input{Step: a.Step, Kind: engine.InputApprove, Text: a.Typed, Operator: a.Operator}) != nil {
				return
			}
		}
	}
}

// dbHint is the --db flag to repeat in a suggested command, if not default.
func dbHint(path string) string {
	if path == store.DefaultPath() {
		return ""
	}
	return " --db " + path
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
