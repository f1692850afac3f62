package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/catalog"
	"github.com/repli-dr/repli/internal/safetext"
)

func newValidateCmd() *cobra.Command {
	var output outputFormat
	cmd := &cobra.Command{
		Use:   "validate RUNBOOK...",
		Short: "Check runbooks and report every problem as file:line:col",
		Long: `Check runbooks without touching any site. Every problem is reported on
stderr as FILE:LINE:COL: message, sorted by position. Warnings do not change
the exit status; errors exit 1.

A RUNBOOK is a file, or the name of a runbook in the runbook directories
($REPLI_RUNBOOKS, the config's runbooks) or of a bundled one (repli validate
annual-pra-test). With --output json, one object per runbook on stdout.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad, unreadable := 0, 0
			results := []catalog.Validation{}
			dirs := runbookDirs()
			for _, path := range args {
				v, diags, err := catalog.Validate(path, dirs)
				results = append(results, v)
				switch {
				case err != nil:
					unreadable++
					if !output.json() {
						fmt.Fprintln(cmd.ErrOrStderr(), safetext.Line(err.Error()))
					}
					continue
				case !output.json():
					for _, d := range diags {
						fmt.Fprintln(cmd.ErrOrStderr(), d)
					}
				}
				if !v.OK {
					bad++
				} else if !output.json() {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: ok — %s, %d steps, sites %s\n", safetext.Line(v.File), v.Runbook, v.Steps, strings.Join(v.Sites, ", "))
				}
			}
			if output.json() {
				if err := writeJSON(cmd.OutOrStdout(), results); err != nil {
					return err
				}
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
	outputFlag(cmd, &output)
	return cmd
}
