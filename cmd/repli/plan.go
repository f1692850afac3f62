package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/plan"
)

type planFlags struct {
	mode   string
	vars   []string
	output outputFormat
}

func newPlanCmd() *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Show what a runbook would do in a mode, step by step, touching nothing",
		Long: `Print the resolved plan of a runbook: its steps in order with what each one
acts on (vars substituted; globs and "all" are resolved only at run time),
start groups, gates, the steps the mode skips and why, failure policies and
timeouts, and where the RTO clock starts and stops. No site is contacted and
nothing is recorded.

FILE is a runbook file, or the name of a bundled runbook (annual-pra-test).

--json prints one object for scripts. Its keys are a contract (added to,
never renamed): runbook, title, file, sha256, mode, rto_s and rpo_s (null
without a target), rto_clock ({start, stop} step ids, or null), vars
([{name, value, list, is_list, overridden}]), sites ([{name, uri, uris,
role, max_per_host}]) and steps, each with index, id, title, kind, action (one line),
gate, approvers, typed (what a typed gate wants typed), waits_for_operator,
destructive, runs, skip_reason, targets ([{site, domains, glob, all,
resolved_at_run_time}]), groups, max_parallel, max_per_host (the site's
bound, given only on a step acting on several domains at once), on_failure ("" for the
default: ask, or abort with --auto-approve), retries, retry_delay_s,
timeout_s (the whole step; 0 for none), kind_timeout_s (the kind's own:
per domain, per probe, per command; 0 for none), modes, skip_in and
rto_mark ("start", "stop" or "").

Exit status: 0 the plan was printed, 2 bad input (an invalid runbook, an
unknown mode or var).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !contains(modes, f.mode) {
				return withCode(exitUsage, fmt.Errorf("--mode %q: use one of %s", f.mode, strings.Join(modes, ", ")))
			}
			rb, err := loadRunbook(args[0], f.vars...)
			if err != nil {
				return err
			}
			overrides, _ := parseVars(f.vars)
			p := plan.Build(rb, f.mode, overrides)
			out := cmd.OutOrStdout()
			if f.output.json() {
				return writeJSON(out, p)
			}
			return p.Write(out)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.mode, "mode", "test", "run mode to plan for: "+strings.Join(modes, ", "))
	fl.StringArrayVar(&f.vars, "var", nil, "override a runbook var: NAME=VALUE, a list as a,b,c (repeatable)")
	outputFlag(cmd, &f.output)
	return cmd
}
