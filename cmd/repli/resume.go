package main

import (
	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/config"
	"github.com/repli-dr/repli/internal/session"
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
is done. The RTO clock counts the time the console was gone.` + keysHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runIDArg(args[0])
			if err != nil {
				return err
			}
			f.detach = detachWanted(cmd, f)
			return resumeRun(cmd, id, f, takeOver)
		},
	}
	detachFlags(cmd, &f)
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
	uris, err := config.SiteOverrides(f.sites, nil)
	if err != nil {
		return withCode(exitUsage, err)
	}
	req := session.Request{DB: dbPath(f.db), URIs: uris, AutoApprove: f.autoApprove, Override: f.override, Assess: preflightCheck,
		Detach: f.detach, Replica: replicaURL(), NoReplica: f.noReplica}
	return sessionExit(session.Resume(cmd.Context(), id, takeOver, req, consoleOf(cmd, f.plain), configureSites))
}
