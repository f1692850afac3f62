package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/internal/config"
	"github.com/repli-dr/repli/internal/readiness"
	"github.com/repli-dr/repli/internal/session"
	"github.com/repli-dr/repli/runbooks"
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
	// Detached engine (see detachFlags) and the trail's replica.
	foreground bool
	detach     bool
	noReplica  string
	path       string
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
3 it stopped before its end (interrupted) and can be resumed.` + keysHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.detach = detachWanted(cmd, f)
			return runRunbook(cmd, args[0], f)
		},
	}
	detachFlags(cmd, &f)
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
	f.path = path
	rb, err := loadRunbookSecrets(path, f.vars, f.secretVars)
	if err != nil {
		return err
	}
	return execute(cmd, rb, f)
}

// siteURIs applies --site NAME=URI overrides to the runbook's sites.
func siteURIs(rb *runbooks.Runbook, overrides []string) (map[string]string, error) {
	set, err := config.SiteOverrides(overrides, rb)
	if err != nil {
		return nil, err
	}
	uris := map[string]string{}
	for _, s := range rb.Sites {
		uris[s.Name] = s.URI
	}
	maps.Copy(uris, set)
	return uris, nil
}

// execute starts a run of rb as the flags say.
func execute(cmd *cobra.Command, rb *runbooks.Runbook, f runFlags) error {
	mode, err := rb.RunMode(f.mode, cmd.Flags().Changed("mode"))
	if err != nil {
		return withCode(exitUsage, err)
	}
	req, err := request(rb, f)
	if err != nil {
		return err
	}
	return sessionExit(session.Start(cmd.Context(), rb, mode, req, consoleOf(cmd, f.plain)))
}

// request turns the run flags into a session request.
func request(rb *runbooks.Runbook, f runFlags) (session.Request, error) {
	uris, err := siteURIs(rb, f.sites)
	if err != nil {
		return session.Request{}, withCode(exitUsage, err)
	}
	if err := requireSiteURIs(rb, uris); err != nil {
		return session.Request{}, err
	}
	vars, _ := parseVars(f.vars)
	secrets, _ := parseSecretVars(f.secretVars)
	return session.Request{
		DB: dbPath(f.db), URIs: uris, AutoApprove: f.autoApprove, Vars: vars, SecretVars: secrets,
		Override: f.override, Speed: f.speed, Seed: f.seed, Faults: f.faults, Assess: preflightCheck,
		Detach: f.detach, Replica: replicaURL(), NoReplica: f.noReplica,
		Source: session.Source{Path: f.path, Vars: f.vars, SecretVars: f.secretVars},
	}, nil
}

// consoleOf describes this terminal: the full-screen UI when it can be used
// (a terminal that is not dumb) and --plain was not asked.
func consoleOf(cmd *cobra.Command, plain bool) session.Console {
	c := session.ConsoleFromEnv(operator(), repliVersion())
	c.In, c.Out, c.Err = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if !plain && isTerminal(c.Out) {
		ok, why := ui.Usable(c.Out)
		if !ok {
			fmt.Fprintln(c.Err, "repli: "+why)
		}
		c.TUI = ok
	}
	if c.TUI {
		c.Renderer = ui.NewRenderer(os.Stdout)
	}
	return c
}

// sessionExit maps how a session ended to repli's exit codes.
func sessionExit(err error) error {
	var u *session.UsageError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &u):
		return withCode(exitUsage, err)
	case errors.Is(err, session.ErrStopped):
		return withCode(exitStopped, errSilent)
	case errors.Is(err, session.ErrFailed):
		return withCode(exitFailed, errSilent)
	}
	return err
}

// preflightCheck is the preflight check the session runs: repli check's readiness.
func preflightCheck(ctx context.Context, rb *runbooks.Runbook, mode string, done map[string]bool, uris map[string]string, sites map[string]engine.Hypervisor) *session.Readiness {
	rep := readiness.Assess(ctx, rb, mode, func(step string) bool { return done[step] }, uris, sites, 5*time.Second)
	var b strings.Builder
	rep.Print(&b)
	return &session.Readiness{Ready: rep.Ready, Blockers: rep.Blockers, Warnings: rep.Warnings, Text: b.String()}
}

// connect opens every site, for repli check.
func connect(ctx context.Context, rb *runbooks.Runbook, uris map[string]string, f runFlags) (map[string]engine.Hypervisor, *sim.Lab, error) {
	return session.Connect(ctx, rb, uris, f.speed, f.seed, f.faults)
}

func closeAll(sites map[string]engine.Hypervisor) {
	for _, hv := range sites {
		hv.Close()
	}
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
