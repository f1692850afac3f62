package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
)

// validation is the JSON shape of one runbook in repli validate --output
// json; its keys are a contract for scripts: add, never rename.
type validation struct {
	Arg         string       `json:"arg"`
	File        string       `json:"file"`
	OK          bool         `json:"ok"`
	Runbook     string       `json:"runbook,omitempty"`
	Steps       int          `json:"steps"`
	Sites       []string     `json:"sites"`
	Diagnostics []diagnostic `json:"diagnostics"`
}

type diagnostic struct {
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Severity string `json:"severity"` // error or warning
	Message  string `json:"message"`
}

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
			results := []validation{}
			for _, path := range args {
				v := validation{Arg: path, Sites: []string{}, Diagnostics: []diagnostic{}}
				file, src, err := resolveRunbook(path)
				if err != nil {
					unreadable++
					v.Diagnostics = append(v.Diagnostics, diagnostic{Severity: "error", Message: err.Error()})
					results = append(results, v)
					if !output.json() {
						fmt.Fprintln(cmd.ErrOrStderr(), safetext.Line(err.Error()))
					}
					continue
				}
				v.File = file
				rb, diags := runbooks.Parse(file, src)
				for _, d := range diags {
					sev := "error"
					if d.Severity == runbooks.SevWarning {
						sev = "warning"
					}
					v.Diagnostics = append(v.Diagnostics, diagnostic{d.Pos.Line, d.Pos.Col, sev, d.Message})
					if !output.json() {
						fmt.Fprintln(cmd.ErrOrStderr(), d)
					}
				}
				if diags.HasErrors() || rb == nil {
					bad++
					results = append(results, v)
					continue
				}
				v.OK, v.Runbook, v.Steps, v.Sites = true, rb.Name, len(rb.Steps), rb.SiteNames()
				results = append(results, v)
				if !output.json() {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: ok — %s, %d steps, sites %s\n", safetext.Line(file), rb.Name, len(rb.Steps), strings.Join(rb.SiteNames(), ", "))
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
