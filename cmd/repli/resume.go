package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/store"
)

func newResumeCmd() *cobra.Command {
	var f runFlags
	var takeOver string
	cmd := &cobra.Command{
		Use:   "resume RUN_ID",
		Short: "Carry on with a run that stopped before its end",
		Long: `Carry on with a run whose console stopped (SSH dropped, laptop closed,
process killed). The run continues from its audit trail with the runbook it
was started with: answered gates are not asked again, and an action whose
outcome was never recorded is checked against the live state before anything
is done. The RTO clock counts the time the console was gone.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runIDArg(args[0])
			if err != nil {
				return err
			}
			return resumeRun(cmd, id, f, takeOver)
		},
	}
	dbFlag(cmd, &f.db)
	fl := cmd.Flags()
	fl.StringArrayVar(&f.sites, "site", nil, "override a site's URI: NAME=URI (repeatable)")
	fl.BoolVar(&f.autoApprove, "auto-approve", false, "answer every remaining gate and checklist item (recorded as such)")
	fl.BoolVar(&f.plain, "plain", false, "print plain progress lines instead of the terminal UI")
	fl.StringVar(&f.override, "force-unready", "", "carry on although the preflight check finds blockers, giving the reason (recorded)")
	fl.StringVar(&takeOver, "take-over", "", "take the run over from a console that is gone (stale lease), giving the reason; recorded")
	return cmd
}

func resumeRun(cmd *cobra.Command, id int64, f runFlags, takeOver string) error {
	ctx := cmd.Context()
	db, err := store.Open(ctx, dbPath(f.db))
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer db.Close()
	run, err := db.Run(ctx, id)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if run.Outcome != engine.OutcomeRunning {
		return withCode(exitUsage, fmt.Errorf("run %d already ended (%s); there is nothing to resume", id, run.Outcome))
	}
	holder := store.LocalHolder(operator(), consoleName(cmd, f.plain))
	lease, err := db.AcquireLease(ctx, id, holder)
	var held *store.LeaseHeldError
	switch {
	case errors.As(err, &held) && held.Stale && takeOver != "":
		lease, err = db.TakeOverLease(ctx, id, holder, takeOver)
		if err != nil {
			return withCode(exitUsage, err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "repli: took run %d over from %s (recorded in the audit trail)\n", id, held.Holder)
	case errors.As(err, &held) && held.Stale:
		return withCode(exitUsage, fmt.Errorf("%w\nto drive it from here, say why: repli resume %d --take-over \"the reason\"", err, id))
	case err != nil:
		return withCode(exitUsage, err)
	}
	_, rb, rep, err := replayRun(ctx, db, id)
	if err != nil {
		return err
	}
	if err := configureSites(rb); err != nil {
		return err
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "repli: "+db.SignAs(ctx, operator()))
	for name, uri := range rep.Started.Sites {
		if s := rb.Site(name); s != nil && uri != s.URI {
			f.sites = append([]string{name + "=" + uri}, f.sites...)
		}
	}
	uris, err := siteURIs(rb, f.sites)
	if err != nil {
		return withCode(exitUsage, err)
	}
	f.speed, f.seed = rep.Started.TimeScale, 1
	sites, lab, err := connect(ctx, rb, uris, f)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer closeAll(sites)
	done := map[string]bool{}
	for id, s := range rep.Steps {
		done[id] = s.Passed
	}
	pre, err := preflight(cmd, rb, rep.Started.Mode, done, uris, sites, f.override, !f.plain && isTerminal(cmd.OutOrStdout()))
	if err != nil {
		return err
	}
	if lab != nil {
		if err := lab.Persist(sim.StatePath(db.Path(), id), true); err != nil {
			return withCode(exitUsage, err)
		}
	}
	opts := consoleOptions(uris, f.autoApprove)
	opts.RunID, opts.Mode, opts.Resume = id, rep.Started.Mode, rep
	opts.Preflight = pre
	opts.TimeScale = rep.Started.TimeScale
	return drive(cmd, rb, sites, db, lease, opts, f.plain)
}
