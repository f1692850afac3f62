package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// loadReport opens the trail read-only and builds a run's report.
func loadReport(cmd *cobra.Command, db, arg string) (*store.Report, error) {
	id, err := runIDArg(arg)
	if err != nil {
		return nil, err
	}
	s, err := openForReview(cmd.Context(), dbPath(db))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	r, err := s.Report(cmd.Context(), id)
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
		Short: "Show one run in detail: steps, gates, actions, notes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := loadReport(cmd, db, args[0])
			if err != nil {
				return err
			}
			if output.json() {
				return writeJSON(cmd.OutOrStdout(), r)
			}
			showRun(safeWriter{cmd.OutOrStdout()}, r)
			return nil
		},
	}
	dbFlag(cmd, &db)
	outputFlag(cmd, &output)
	return cmd
}

func newReportCmd() *cobra.Command {
	var db, out, format string
	cmd := &cobra.Command{
		Use:   "report RUN_ID",
		Short: "Write a run's audit report (Markdown or JSON) for auditors and the change ticket",
		Long: `Write the evidence of one run as a document: what the plan was (the
runbook's SHA-256), who drove it from where, every step with its times and
duration, every gate decision (who, when, what was typed, how long the run
waited), every action on a hypervisor with its result, the operators' notes,
the recovery time against its target, and whether the audit trail verifies.
It reads the trail read-only: a copy of the database on a laptop works.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := loadReport(cmd, db, args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out != "" {
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return withCode(exitUsage, err)
				}
				defer f.Close()
				w = f
			}
			switch format {
			case "markdown", "md":
				writeMarkdown(safeWriter{w}, r)
			case "json":
				return writeJSON(w, r)
			default:
				return withCode(exitUsage, fmt.Errorf("--format %q: use markdown or json", format))
			}
			return nil
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&format, "format", "markdown", "markdown or json")
	return cmd
}

// writeJSON writes v as indented JSON. Control characters inside strings
// are \u escapes (C0 by encoding/json, DEL, C1 and bidi controls by
// safetext.JSON): the document means the same, and can be shown raw.
func writeJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(safetext.JSON(b.Bytes()))
	return err
}

// safeWriter makes everything written through it safe for a terminal: the
// show and report texts quote runbook titles, operators' notes, command
// lines and errors, none of which repli wrote itself. Newlines and tabs
// stay (the layout is repli's); single-line values go through cell or
// safetext.Line as well, so that theirs do not break a table.
type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, safetext.Terminal(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// cell is a single-line value in a text table.
func cell(s string) string { return safetext.Line(s) }

func ts(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func rtoLine(r *store.Report) string {
	switch {
	case r.RTOAchieved > 0:
		return fmt.Sprintf("%s from %s to %s%s", ui.FormatDuration(r.RTOAchieved), r.RTOStartStep, r.RTOStopStep, ui.RTOVerdict(r.RTOAchieved, r.RTOTarget))
	case r.RTOStartStep != "":
		return fmt.Sprintf("not reached: the clock started at %s and the run ended before service was back", r.RTOStartStep)
	}
	return "not measured (the run did not reach its rto: start step)"
}

func verifyLine(r *store.Report) string {
	v := r.Verification
	if v.OK {
		return fmt.Sprintf("intact: %d events in the trail, head event %d hash %s", v.Events, v.HeadID, v.Head)
	}
	return fmt.Sprintf("TAMPERED (%s): %s", v.Break, v.Problem)
}

func showRun(w io.Writer, r *store.Report) {
	run := r.Run
	fmt.Fprintf(w, "Run %d · %s · %s mode · %s\n", run.ID, cell(r.Runbook), cell(r.Mode), ui.OutcomeLabel(run.Outcome))
	fmt.Fprintf(w, "Started %s by %s on %s", ts(run.StartedAt), cell(r.Operator), cell(r.Host))
	if r.SSHClient != "" {
		fmt.Fprintf(w, " (SSH from %s)", cell(strings.Fields(r.SSHClient)[0]))
	}
	fmt.Fprintf(w, "; duration %s\n", ui.FormatDuration(run.Duration(time.Now())))
	if run.Reason != "" {
		fmt.Fprintf(w, "Reason: %s\n", cell(run.Reason))
	}
	fmt.Fprintf(w, "RTO: %s\n", rtoLine(r))
	if r.AutoApprove {
		fmt.Fprintln(w, "Gates were answered automatically (--auto-approve).")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATE\tSTARTED\tDURATION\tTRIES")
	for _, s := range r.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", cell(s.ID), ui.StateLabel(s.State), ts(s.Started), ui.FormatDuration(s.Duration), s.Attempts)
	}
	tw.Flush()
	if len(r.Gates) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "GATE\tDECISION\tBY\tAT\tWAITED")
		for _, g := range r.Gates {
			fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%s\t%s\n", cell(g.Step), cell(g.Gate), cell(decision(g)), cell(g.Operator), ts(g.At), ui.FormatDuration(g.Waited))
		}
		tw.Flush()
	}
	if len(r.Actions) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ACTION\tTARGET\tAT\tTOOK\tRESULT")
		for _, a := range r.Actions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(a.Verb), cell(target(a)), ts(a.At), a.Duration.Round(10*time.Millisecond), cell(a.Result))
		}
		tw.Flush()
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\nNote by %s at %s: %s", cell(n.Operator), ts(n.At), safetext.Terminal(n.Text))
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nAudit trail: %s\n", verifyLine(r))
	if r.Anchor != "" {
		fmt.Fprintf(w, "Anchor: %s\n", r.Anchor)
	}
}

func decision(g store.GateReport) string {
	switch {
	case g.Choice != "":
		return g.Choice
	case g.Approved && g.Typed != "" && g.Gate == "typed":
		return fmt.Sprintf("approved (typed %q)", g.Typed)
	case g.Approved && g.Typed != "":
		return fmt.Sprintf("done: %q", g.Typed)
	case g.Approved:
		return "approved"
	}
	return "REFUSED"
}

func target(a store.ActionReport) string {
	if a.Site == "local" {
		d := safetext.Line(a.Detail)
		if r := []rune(d); len(r) > 60 { // cut on a character, never inside one
			return string(r[:59]) + "…"
		}
		return d
	}
	return safetext.Line(a.Site + "/" + a.Domain)
}

// md escapes text for a Markdown table cell.
func md(s string) string {
	return safetext.Line(strings.NewReplacer("|", `\|`, "\n", " ").Replace(s))
}

func writeMarkdown(w io.Writer, r *store.Report) {
	run := r.Run
	fmt.Fprintf(w, "# Recovery run %d — %s\n\n", run.ID, safetext.Line(r.Runbook))
	if run.Title != "" {
		fmt.Fprintf(w, "%s\n\n", safetext.Line(run.Title))
	}
	fmt.Fprintf(w, "| | |\n|---|---|\n")
	rows := [][2]string{
		{"Outcome", string(run.Outcome)},
		{"Mode", r.Mode},
		{"Started", ts(run.StartedAt)},
	}
	if run.EndedAt != nil {
		rows = append(rows, [2]string{"Ended", ts(*run.EndedAt)}, [2]string{"Duration", ui.FormatDuration(run.Duration(time.Now()))})
	}
	rows = append(rows,
		[2]string{"Recovery time (RTO)", rtoLine(r)},
		[2]string{"Driven by", fmt.Sprintf("%s on %s", r.Operator, r.Host)},
		[2]string{"Runbook SHA-256", "`" + r.RunbookSHA + "`"},
		[2]string{"repli version", r.Version},
		[2]string{"Gates answered automatically", fmt.Sprint(r.AutoApprove)},
	)
	if run.Reason != "" {
		rows = append(rows, [2]string{"Reason", run.Reason})
	}
	for _, row := range rows {
		fmt.Fprintf(w, "| %s | %s |\n", row[0], md(row[1]))
	}
	fmt.Fprintf(w, "\n## Sites\n\n| Site | URI |\n|---|---|\n")
	names := make([]string, 0, len(r.Sites))
	for n := range r.Sites {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "| %s | `%s` |\n", md(n), md(r.Sites[n]))
	}
	fmt.Fprintf(w, "\n## Consoles\n\n| When | How | Operator | Host | SSH client | Note |\n|---|---|---|---|---|---|\n")
	for _, s := range r.Sessions {
		note := s.Reason
		if s.Gap > 0 {
			note = "console away " + ui.FormatDuration(s.Gap)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", ts(s.At), md(s.How), md(s.Operator), md(s.Host), md(s.SSHClient), md(note))
	}
	fmt.Fprintf(w, "\n## Steps\n\n| Step | State | Started | Ended | Duration | Tries | Note |\n|---|---|---|---|---|---|---|\n")
	for _, s := range r.Steps {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d | %s |\n", md(s.ID), s.State, ts(s.Started), ts(s.Ended), ui.FormatDuration(s.Duration), s.Attempts, md(s.Reason))
	}
	if len(r.Gates) > 0 {
		fmt.Fprintf(w, "\n## Decisions\n\n| Step | Gate | Decision | By | At | Waited | Checklist |\n|---|---|---|---|---|---|---|\n")
		for _, g := range r.Gates {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", md(g.Step), md(g.Gate), md(decision(g)), md(g.Operator), ts(g.At), ui.FormatDuration(g.Waited), md(strings.Join(g.Ticked, "; ")))
		}
	}
	if len(r.Actions) > 0 {
		fmt.Fprintf(w, "\n## Actions\n\n| # | Step | Action | Target | At | Took | Result | Error |\n|---|---|---|---|---|---|---|---|\n")
		for _, a := range r.Actions {
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", a.ID, md(a.Step), md(a.Verb), md(target(a)), ts(a.At), a.Duration.Round(10*time.Millisecond), md(a.Result), md(a.Error))
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s, %s: %s\n", ts(n.At), md(n.Operator), md(n.Text))
		}
	}
	fmt.Fprintf(w, "\n## Evidence\n\n- Audit trail: %s\n", verifyLine(r))
	if r.Anchor != "" {
		fmt.Fprintf(w, "- Anchor of this run (its last event): `%s` — check it with `repli verify --anchor %s`\n", r.Anchor, r.Anchor)
	}
	fmt.Fprintf(w, "- This run holds %d events.\n", r.Events)
	if run.Outcome == engine.OutcomeRunning {
		fmt.Fprintf(w, "- The run has not ended: this report shows it as it stood.\n")
	}
}
