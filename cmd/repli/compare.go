package main

import (
	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/evidence"
)

func newCompareCmd() *cobra.Command {
	var db string
	var output outputFormat
	cmd := &cobra.Command{
		Use:   "compare RUN_A RUN_B",
		Short: "Put two runs side by side: runbook diff, step durations, gate waits, RTO/RPO, outcome",
		Long: `Compare two runs, typically last year's drill (RUN_A) and this year's
(RUN_B): the runbook diff (steps added, removed, changed, by id and
content), each step's duration side by side with the delta, the time spent
waiting at gates, the RTO and RPO against their targets with the delta, and
the outcome of each. A run of a runbook written by repli reverse is labelled
the return to normal of the forward run it reverses. Read-only.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := loadEvidence(cmd, db, args[0], false)
			if err != nil {
				return err
			}
			b, err := loadEvidence(cmd, db, args[1], false)
			if err != nil {
				return err
			}
			c := evidence.Compare(a, b)
			if output.json() {
				return writeJSON(cmd.OutOrStdout(), c)
			}
			return c.WriteText(cmd.OutOrStdout())
		},
	}
	dbFlag(cmd, &db)
	outputFlag(cmd, &output)
	return cmd
}
