package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/config"
	"github.com/repli-dr/repli/internal/session"
	"github.com/repli-dr/repli/runbooks"
)

func newAttachCmd() *cobra.Command {
	var db string
	var plain bool
	var takeOver string
	cmd := &cobra.Command{
		Use:   "attach RUN_ID",
		Short: "Open a console on a run whose engine runs detached, and drive it",
		Long: `Open a console on a run started (or resumed) from a terminal: its engine runs
in a process of its own, which goes on when the terminal goes away (an SSH
link dropped, a tmux server killed), finishing the actions in flight and
waiting at the next gate for a person. attach shows where the run stands
and drives it from there: gates, checklists, failure choices, notes.
Leaving the console leaves the run going. One console drives a run at a
time: another is refused, unless it takes over with --take-over "reason",
recorded in the audit trail.

repli watch follows a run read-only; repli approve answers a gate from
another console. If the engine itself is gone (the host rebooted, the
process killed), attach says so: carry on with repli resume.

Exit status: 0 the run succeeded, 1 it failed or was aborted, 2 bad input
(no such run, no engine), 3 this console left before the run's end.` + keysHelp,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRunIDs(true),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runIDArg(args[0])
			if err != nil {
				return err
			}
			return sessionExit(session.Attach(cmd.Context(), dbPath(db), id, takeOver, consoleOf(cmd, plain)))
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().BoolVar(&plain, "plain", false, "print plain progress lines instead of the terminal UI")
	cmd.Flags().StringVar(&takeOver, "take-over", "", "drive the run although another console is attached to it, giving the reason (recorded); that console stops driving")
	return cmd
}

// newEngineCmd is the detached engine process that repli run and resume
// start (see session.RunEngine); it is not for people.
func newEngineCmd() *cobra.Command {
	return &cobra.Command{
		Use:    session.EngineCommand,
		Short:  "The detached engine of a run (started by repli run and resume)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, report, err := session.EngineFiles()
			if err != nil {
				return withCode(exitUsage, err)
			}
			load := func(src session.Source) (*runbooks.Runbook, error) {
				return loadRunbookSecrets(src.Path, src.Vars, src.SecretVars)
			}
			return sessionExit(session.RunEngine(cmd.Context(), spec, report, load, preflightCheck, configureSites))
		},
	}
}

// detachFlags are the flags of run and resume about where the engine runs
// and the trail's replica.
func detachFlags(cmd *cobra.Command, f *runFlags) {
	fl := cmd.Flags()
	fl.BoolVar(&f.foreground, "foreground", false, "run the engine inside this console (the run stops when the console does), as scripts may want; the default when not on a terminal")
	fl.BoolVar(&f.detach, "detach", false, "run the engine in a process of its own and attach this console to it, even when not on a terminal (the default on a terminal)")
	fl.StringVar(&f.noReplica, "no-replica", "", "run without a replica of the audit trail at the other site, giving the reason (recorded)")
	cmd.MarkFlagsMutuallyExclusive("foreground", "detach")
}

// detachWanted: the engine runs detached when asked, or by default when the
// console is a terminal (which can hang up); a script with no terminal
// keeps the engine inside its process unless it asks.
func detachWanted(cmd *cobra.Command, f runFlags) bool {
	switch {
	case f.foreground:
		return false
	case f.detach:
		return true
	}
	in, ok := cmd.InOrStdin().(*os.File)
	return ok && isTerminal(cmd.OutOrStdout()) && isTerminal(in)
}

// replicaURL is the trail's replica: $REPLI_REPLICA, else the config's
// replica, else none.
func replicaURL() string {
	if v := configOrEmpty().Resolve(config.KeyReplica, config.Inputs{}); v.Set() {
		return v.Values[0]
	}
	return ""
}
