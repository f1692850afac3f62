package main

import (
	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/report"
	"github.com/repli-dr/repli/runbooks"
)

func newSchemaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the runbook format, for editors (repli schema report: of the report)",
		Long: `Print a JSON Schema (draft-07) of the runbook format on stdout. With it, an
editor completes runbook keys, shows what each one means and flags most
mistakes while you type. repli validate stays the judge: some rules (site
references, duplicate ids, the RTO marks) need the whole runbook.

With yaml-language-server (VS Code's YAML extension, Neovim, Helix…):

  repli schema > repli-runbook.schema.json

then put this first line in each runbook:

  # yaml-language-server: $schema=./repli-runbook.schema.json

or map the schema to your runbooks in the editor's settings, e.g. in VS Code:

  "yaml.schemas": {"./repli-runbook.schema.json": "runbooks/*.yaml"}

repli schema report prints the JSON Schema of repli report --format json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cmd.OutOrStdout().Write(runbooks.Schema())
			return err
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "report",
		Short: "Print the JSON Schema of the run report (repli report --format json)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cmd.OutOrStdout().Write(report.Schema())
			return err
		},
	})
	return cmd
}
