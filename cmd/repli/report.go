package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/evidence"
	"github.com/repli-dr/repli/internal/report"
)

// loadEvidence opens the trail read-only and builds one run's evidence,
// verifying that run's events and their links to the chain only.
func loadEvidence(cmd *cobra.Command, db, arg string, checkSigs bool) (*evidence.Run, error) {
	id, err := runIDArg(arg)
	if err != nil {
		return nil, err
	}
	s, err := openForReview(cmd.Context(), dbPath(db))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	r, err := evidence.Load(cmd.Context(), s, id, evidence.Options{RepliVersion: repliVersion(), CheckSignatures: checkSigs})
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return r, nil
}

func newShowCmd() *cobra.Command {
	var db string
	var output outputFormat
	cmd := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show one run in detail: timeline, gates, objectives, deviations, integrity",
		Long: `Show one run as the report tells it, in the terminal: who ran what from
where, a timeline of the steps to scale (█ work, ░ waiting at a gate), every
gate with who answered, when, after how long and what was typed, the RTO and
RPO against their targets, what did not go as planned, the operators'
findings and whether the run's events verify. With --json, the report's JSON
(repli schema report).

Only this run's events and their links to the chain are verified, so that
reading one run costs what that run costs; repli verify checks the whole
trail.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := loadEvidence(cmd, db, args[0], false)
			if err != nil {
				return err
			}
			if output.json() {
				// A view of the run reads the same twice: it is dated at the
				// run's last event (repli report dates its documents).
				r.Doc.GeneratedAt, r.Doc.Integrity.VerifiedAt = r.Progress.LastAt, r.Progress.LastAt
				return evidence.Render(cmd.OutOrStdout(), r.Doc, "json", "en")
			}
			width := 100
			if f, ok := cmd.OutOrStdout().(*os.File); ok && isTerminal(f) {
				if w, _, err := term.GetSize(f.Fd()); err == nil && w > 0 {
					width = w
				}
			} else if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 0 {
				width = c
			}
			return evidence.WriteShow(cmd.OutOrStdout(), r, width)
		},
	}
	dbFlag(cmd, &db)
	outputFlag(cmd, &output)
	return cmd
}

func newReportCmd() *cobra.Command {
	var db, out, format, lang string
	cmd := &cobra.Command{
		Use:   "report RUN_ID",
		Short: "Write a run's audit report (HTML, Markdown or JSON, English or French)",
		Long: `Write the evidence of one run as the document an auditor signs off:
identification (runbook name and SHA-256, repli version, mode, simulated or
real, scope, objectives), the people, readiness at the start (warnings
accepted, blockers overridden, by whom and why), the timeline, every gate,
the measured RTO and RPO against their targets, validation evidence,
deviations, the final state, findings, hybrid restores, and integrity (the
run's anchor, its signatures, and how to re-verify them with repli and with
ssh-keygen -Y verify alone).

  --format html  one self-contained file, printable to PDF (A4)
  --format md    Markdown, for tickets and wikis
  --format json  for other tools; its schema: repli schema report

--lang fr writes it in French (PRA, RTO/DMIA, RPO/PDMA, French dates).
With -o FILE the file is either written whole or left untouched. It reads
the trail read-only: a copy of the database on a laptop works.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "markdown":
				format = "md"
			case "html", "md", "json":
			default:
				return withCode(exitUsage, fmt.Errorf("--format %q: use html, md or json", format))
			}
			if lang != "en" && lang != "fr" {
				return withCode(exitUsage, fmt.Errorf("--lang %q: use en or fr", lang))
			}
			r, err := loadEvidence(cmd, db, args[0], true)
			if err != nil {
				return err
			}
			if out != "" {
				if err := report.WriteFile(out, r.Doc, format, lang); err != nil {
					return withCode(exitFailed, err)
				}
				return nil
			}
			if err := evidence.Render(cmd.OutOrStdout(), r.Doc, format, lang); err != nil {
				return withCode(exitFailed, err)
			}
			return nil
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file (whole, or not at all) instead of stdout")
	cmd.Flags().StringVar(&format, "format", "md", "html, md or json")
	cmd.Flags().StringVar(&lang, "lang", "en", "language of the report: en or fr")
	return cmd
}
