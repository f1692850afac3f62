package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/runbooks"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate RUNBOOK...",
		Short: "Check runbooks and report every problem as file:line:col",
		Long: `Check runbooks without touching any site. Every problem is reported on
stderr as FILE:LINE:COL: message, sorted by position. Warnings do not change
the exit status; errors exit 1.

A RUNBOOK is a file, or the name of a runbook in the runbook directories
($REPLI_RUNBOOKS, the config's runbooks) or of a bundled one (repli validate
annual-pra-test).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad, unreadable := 0, 0
			for _, path := range args {
				file, src, err := resolveRunbook(path)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					unreadable++
					continue
				}
				rb, diags := runbooks.Parse(file, src)
				for _, d := range diags {
					fmt.Fprintln(cmd.ErrOrStderr(), d)
				}
				if diags.HasErrors() {
					bad++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok — %s, %d steps, sites %s\n", file, rb.Name, len(rb.Steps), strings.Join(rb.SiteNames(), ", "))
			}
			switch {
			case unreadable > 0:
				return withCode(exitUsage, errSilent)
			case bad > 0:
				return withCode(exitFailed, errSilent)
			}
			return nil
		},
	}
}
