package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/readiness"
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

Globs and "all" are resolved against the sites now and listed with the
domains they match.

Blockers are what would stop the run: an unreachable site, a missing domain,
a domain a check step would find in the wrong state, or one a start step
could not start; a glob that matches no domain; a domain defined on more
than one host of a site (the hosts are named); a domain running in two
places at once, on two hosts or at two sites (SPLIT BRAIN). A domain
already in the state a shutdown or start step leads to is a warning: the
step will skip it.

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
	rep := readiness.Assess(ctx, rb, f.mode, nil, uris, sites, f.timeout)
	out := cmd.OutOrStdout()
	if f.output.json() {
		if err := writeJSON(out, rep); err != nil {
			return err
		}
	} else {
		rep.Print(out)
	}
	if !rep.Ready {
		return withCode(exitFailed, errSilent)
	}
	return nil
}
