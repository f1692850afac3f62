package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/catalog"
	"github.com/repli-dr/repli/internal/reverse"
)

func newReverseCmd() *cobra.Command {
	var out string
	var vars []string
	var force bool
	cmd := &cobra.Command{
		Use:   "reverse FILE",
		Short: "Write the runbook that brings the estate back, for review",
		Long: `Write the way back of a runbook: site roles swapped, starts and shutdowns
inverted and run in reverse order, domain-state checks inverted, manual steps
kept, and every command repli cannot invert turned into a manual step that
shows it. Review the result before you run it: its comments say what was
inverted and mark with REVIEW what needs a person.

The result names its origin (reverse_of: the runbook's name and SHA-256). Its
runs are recorded in mode failback; --mode failback on any other runbook is
refused.

FILE is a runbook file, or the name of a bundled runbook. Without -o the
runbook is printed on stdout; notes for the reviewer go to stderr.`,
		Example: `  repli reverse annual-pra-test -o annual-pra-test-return.yaml
  repli validate annual-pra-test-return.yaml && repli plan annual-pra-test-return.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rb, err := loadRunbook(args[0], vars...)
			if err != nil {
				return err
			}
			res, err := reverse.Reverse(rb)
			if err != nil {
				return err
			}
			for _, n := range res.Notes {
				fmt.Fprintln(cmd.ErrOrStderr(), "review:", n)
			}
			if out == "" || out == "-" {
				_, err := cmd.OutOrStdout().Write(res.Source)
				return err
			}
			if err := catalog.WriteNew(out, res.Source, force); err != nil {
				return withCode(exitUsage, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: the way back of %s (%s); review it, then: repli plan %s\n", out, rb.Name, res.Name, out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the runbook to this file instead of stdout")
	cmd.Flags().BoolVar(&force, "force", false, "with -o, replace the file if it exists")
	cmd.Flags().StringArrayVar(&vars, "var", nil, "override a runbook var before reversing: NAME=VALUE (repeatable)")
	return cmd
}
