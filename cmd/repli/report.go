package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/evidence"
	"github.com/repli-dr/repli/internal/report"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/ui"
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
				return renderTo(cmd.OutOrStdout(), r.Doc, "json", "en")
			}
			width := 100
			if f, ok := cmd.OutOrStdout().(*os.File); ok && isTerminal(f) {
				if w, _, err := term.GetSize(f.Fd()); err == nil && w > 0 {
					width = w
				}
			} else if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 0 {
				width = c
			}
			bw := &errWriter{w: safeWriter{cmd.OutOrStdout()}}
			showRun(bw, r, width)
			return bw.err
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
			if err := renderTo(cmd.OutOrStdout(), r.Doc, format, lang); err != nil {
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

// renderTo renders a report on a stream that may be a terminal: JSON has
// its C1 and bidi controls escaped as well (encoding/json leaves them raw);
// HTML and Markdown show them visibly already.
func renderTo(w io.Writer, doc *report.Doc, format, lang string) error {
	if format != "json" {
		return report.Render(w, doc, format, lang)
	}
	var b bytes.Buffer
	if err := report.Render(&b, doc, format, lang); err != nil {
		return err
	}
	if _, err := w.Write(safetext.JSON(b.Bytes())); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
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
// show text quotes runbook titles, operators' notes, command lines and
// errors, none of which repli wrote itself. Newlines and tabs stay (the
// layout is repli's); single-line values go through cell as well, so that
// theirs do not break a table.
type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, safetext.Terminal(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// errWriter keeps the first write error, so that a view written with many
// Fprintf calls still reports a failed write.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = fmt.Errorf("write the run's view: %w", err)
	}
	return n, err
}

// cell is a single-line value in a text table.
func cell(s string) string { return safetext.Line(s) }

func ts(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("15:04:05")
}

// outcomeLabel is a run's outcome as glyph and word; interrupted is a run
// whose console is gone.
func outcomeLabel(o string) string {
	if o == "interrupted" {
		return "⏸ interrupted"
	}
	return ui.OutcomeLabel(engine.Outcome(o))
}

func measureLine(name string, m report.Measure) string {
	target := "no target"
	if m.Target > 0 {
		target = "target " + ui.FormatDuration(m.Target)
	}
	switch m.Verdict() {
	case "pass":
		return fmt.Sprintf("%s ✓ PASS %s (%s), from %s to %s", name, ui.FormatDuration(m.Achieved), target, cell(m.FromStep), cell(m.ToStep))
	case "fail":
		return fmt.Sprintf("%s ✗ FAIL %s (%s), from %s to %s", name, ui.FormatDuration(m.Achieved), target, cell(m.FromStep), cell(m.ToStep))
	}
	return fmt.Sprintf("%s — not measured (%s): %s", name, target, cell(m.Basis))
}

func resultLabel(r string) string {
	switch r {
	case "succeeded":
		return "✓ done"
	case "failed":
		return "✗ failed"
	case "skipped":
		return "↷ skipped"
	case "not_executed":
		return "· not run"
	case "aborted":
		return "✗ aborted"
	case "running":
		return "▶ running"
	}
	return r
}

func showRun(w io.Writer, r *evidence.Run, width int) {
	d := r.Doc
	id := d.Identification
	fmt.Fprintf(w, "Run %d · %s · %s mode · %s\n", id.RunID, cell(id.Runbook), cell(id.Mode), outcomeLabel(id.Outcome))
	if id.Title != "" {
		fmt.Fprintf(w, "%s\n", cell(id.Title))
	}
	fmt.Fprintf(w, "Runbook SHA-256 %s · repli %s\n", cell(orNone(id.RunbookSHA256)), cell(id.RepliVersion))
	if r.RunbookErr != nil {
		fmt.Fprintf(w, "The runbook recorded with the run cannot be read by this repli (%s): steps are those the run reached.\n", cell(r.RunbookErr.Error()))
	}
	fmt.Fprintf(w, "Started %s by %s on %s", ts(id.Started), cell(d.People.Operator.Name), cell(id.ConsoleHost))
	if id.SSHClient != "" {
		fmt.Fprintf(w, " (SSH from %s)", cell(id.SSHClient))
	}
	if !id.Ended.IsZero() {
		fmt.Fprintf(w, "; ended %s after %s", ts(id.Ended), ui.FormatDuration(id.Ended.Sub(id.Started)))
	}
	fmt.Fprintln(w)
	if id.Reason != "" {
		fmt.Fprintf(w, "Reason: %s\n", cell(id.Reason))
	}
	var sites []string
	for _, s := range id.Sites {
		role := ""
		if s.Role != "" {
			role = " (" + s.Role + ")"
		}
		sites = append(sites, cell(s.Name)+role+" "+cell(s.URI))
	}
	fmt.Fprintf(w, "Sites: %s", strings.Join(sites, ", "))
	if id.Simulated {
		fmt.Fprintf(w, " — SIMULATED: no real hypervisor was touched")
	}
	fmt.Fprintln(w)
	if r.Progress.Started.AutoApprove {
		fmt.Fprintln(w, "Gates were answered automatically (--auto-approve).")
	}
	signed := 0
	for _, a := range d.People.Approvers {
		if a.Signed {
			signed++
		}
	}
	fmt.Fprintf(w, "Approvals: %d, %d signed · signatures in the trail: %d\n", len(d.People.Approvers), signed, len(d.Integrity.Signatures))
	for _, o := range d.People.Observers {
		fmt.Fprintf(w, "Also at the console: %s on %s, %s\n", cell(o.Name), cell(o.Host), cell(o.Role))
	}
	fmt.Fprintln(w)
	for _, l := range report.TimelineText(d, width) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, measureLine("RTO", d.Objectives.RTO))
	fmt.Fprintln(w, measureLine("RPO", d.Objectives.RPO))

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSTEP\tRESULT\tSTARTED\tDURATION\tRETRIES\tSITE\tACTION")
	for _, s := range d.Timeline {
		dur := "—"
		if !s.Started.IsZero() {
			dur = ui.FormatDuration(s.Duration)
		}
		action := cell(s.Action)
		if r := []rune(action); len(r) > 50 {
			action = string(r[:49]) + "…"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Order, cell(s.ID), resultLabel(s.Result), clock(s.Started), dur, s.Retries, cell(s.Site), action)
	}
	tw.Flush()

	if len(d.Gates) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "GATE\tKIND\tOPENED\tWAITED\tDECISIONS")
		for _, g := range d.Gates {
			var ds []string
			for _, x := range g.Decisions {
				ds = append(ds, decisionText(x))
			}
			if len(ds) == 0 {
				ds = []string{"⏸ no answer"}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(g.Step), cell(g.Kind), clock(g.Opened), ui.FormatDuration(g.Wait), cell(strings.Join(ds, "; ")))
			for _, t := range g.Checklist {
				fmt.Fprintf(tw, "\t\t%s\t\t☑ %s by %s\n", clock(t.At), cell(t.Item), cell(t.By))
			}
		}
		tw.Flush()
	}
	if len(d.Accepted) > 0 {
		fmt.Fprintln(w, "\nReadiness at start:")
		for _, a := range d.Accepted {
			fmt.Fprintf(w, "  %s: %s — by %s: %s\n", cell(a.Severity), cell(a.Message), cell(a.By), cell(a.Reason))
		}
	}
	if len(d.Deviations) > 0 {
		fmt.Fprintln(w, "\nDeviations:")
		for _, x := range d.Deviations {
			step := ""
			if x.Step != "" {
				step = " " + cell(x.Step)
			}
			fmt.Fprintf(w, "  %s %s%s: %s\n", clock(x.At), strings.ReplaceAll(x.Kind, "_", " "), step, cell(x.Detail))
		}
	}
	if len(d.Validation) > 0 {
		fmt.Fprintln(w, "\nValidation evidence and notes:")
		for _, c := range d.Validation {
			mark := "✓"
			if !c.OK {
				mark = "✗"
			}
			fmt.Fprintf(w, "  %s %s %s", clock(c.At), mark, cell(c.Name))
			if c.Command != "" {
				fmt.Fprintf(w, ": %s", cell(c.Command))
			}
			fmt.Fprintln(w)
			if out := strings.TrimRight(c.Output, "\n"); out != "" {
				lines := strings.Split(out, "\n")
				if len(lines) > 6 {
					lines = append(lines[:6], fmt.Sprintf("… %d more lines (repli report has them all)", len(lines)-6))
				}
				for _, l := range lines {
					fmt.Fprintf(w, "      %s\n", cell(l))
				}
			}
		}
	}
	if len(d.Findings) > 0 {
		fmt.Fprintln(w, "\nFindings:")
		for _, f := range d.Findings {
			fmt.Fprintf(w, "  %s %s by %s: %s", f.ID, clock(f.At), cell(f.By), cell(f.Text))
			if f.Action != "" {
				fmt.Fprintf(w, " → %s", cell(f.Action))
			}
			if f.Owner != "" {
				fmt.Fprintf(w, " (owner %s)", cell(f.Owner))
			}
			if !f.Due.IsZero() {
				fmt.Fprintf(w, " due %s", f.Due.Format("2006-01-02"))
			}
			fmt.Fprintln(w)
		}
	}
	in := d.Integrity
	fmt.Fprintln(w)
	if in.Verified {
		fmt.Fprintf(w, "Audit trail: this run's %d events verify and are linked to the chain (repli verify checks the whole trail)\n", in.Events)
	} else {
		fmt.Fprintf(w, "Audit trail: TAMPERED: %s\n", cell(in.VerifyDetail))
	}
	fmt.Fprintf(w, "Anchor: %s\n", cell(r.Anchor))
}

func orNone(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func decisionText(x report.Decision) string {
	var s string
	switch {
	case x.Choice != "":
		s = x.Choice
	case x.Approved && x.Typed != "":
		s = fmt.Sprintf("approved (typed %q)", x.Typed)
	case x.Approved:
		s = "approved"
	default:
		s = "REFUSED"
	}
	s += " by " + x.By + " at " + clock(x.At)
	if x.Signed {
		s += " (signed)"
	}
	return s
}
