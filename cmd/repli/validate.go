package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check runbooks and report every problem as file:line:col",
		Long: `Check runbooks without touching any site. Every problem is reported on
stderr as FILE:LINE:COL: message, sorted by position. Warnings do not change
the exit status; errors exit 1.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad, unreadable := 0, 0
			for _, path := range args {
				rb, diags, err := runbooks.Load(path)
				if err != nil {
					why := err.Error()
					if errors.Is(err, fs.ErrNotExist) {
						why = "no such file"
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", safetext.Line(path), safetext.Line(why))
					unreadable++
					continue
				}
				for _, d := range diags {
					fmt.Fprintln(cmd.ErrOrStderr(), d)
				}
				if diags.HasErrors() {
					bad++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok — %s, %d steps, sites %s\n", safetext.Line(path), rb.Name, len(rb.Steps), strings.Join(rb.SiteNames(), ", "))
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
