package evidence

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/repli-dr/repli/internal/report"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/internal/textfmt"
)

func measureLine(name string, m report.Measure) string {
	target := "no target"
	if m.Target > 0 {
		target = "target " + textfmt.Duration(m.Target)
	}
	switch m.Verdict() {
	case "pass":
		return fmt.Sprintf("%s ✓ PASS %s (%s), from %s to %s", name, textfmt.Duration(m.Achieved), target, safetext.Line(m.FromStep), safetext.Line(m.ToStep))
	case "fail":
		return fmt.Sprintf("%s ✗ FAIL %s (%s), from %s to %s", name, textfmt.Duration(m.Achieved), target, safetext.Line(m.FromStep), safetext.Line(m.ToStep))
	}
	return fmt.Sprintf("%s — not measured (%s): %s", name, target, safetext.Line(m.Basis))
}

// WriteShow writes one run as repli show tells it in a terminal of that
// width: identification, the timeline to scale, steps, gates, readiness
// accepted, deviations, validation evidence, findings and integrity. Every
// string from the trail is made safe for the terminal.
func WriteShow(out io.Writer, r *Run, width int) error {
	bw := &textfmt.ErrWriter{W: safetext.Writer{W: out}}
	writeShow(bw, r, width)
	return bw.Err
}

func writeShow(w io.Writer, r *Run, width int) {
	d := r.Doc
	writeHeader(w, r)
	fmt.Fprintln(w)
	for _, l := range report.TimelineText(d, width) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, measureLine("RTO", d.Objectives.RTO))
	fmt.Fprintln(w, measureLine("RPO", d.Objectives.RPO))

	writeTables(w, d)
	writeNotes(w, d)
	in := d.Integrity
	fmt.Fprintln(w)
	if in.Verified {
		fmt.Fprintf(w, "Audit trail: this run's %d events verify and are linked to the chain (repli verify checks the whole trail)\n", in.Events)
	} else {
		fmt.Fprintf(w, "Audit trail: TAMPERED: %s\n", safetext.Line(in.VerifyDetail))
	}
	fmt.Fprintf(w, "Anchor: %s\n", safetext.Line(r.Anchor))
}

// writeHeader is who ran what, from where, when, on which sites, with what
// approvals.
func writeHeader(w io.Writer, r *Run) {
	d := r.Doc
	id := d.Identification
	fmt.Fprintf(w, "Run %d · %s · %s mode · %s\n", id.RunID, safetext.Line(id.Runbook), safetext.Line(id.Mode), textfmt.Outcome(id.Outcome))
	if id.Title != "" {
		fmt.Fprintf(w, "%s\n", safetext.Line(id.Title))
	}
	fmt.Fprintf(w, "Runbook SHA-256 %s · repli %s\n", safetext.Line(textfmt.OrDash(id.RunbookSHA256)), safetext.Line(id.RepliVersion))
	if r.RunbookErr != nil {
		fmt.Fprintf(w, "The runbook recorded with the run cannot be read by this repli (%s): steps are those the run reached.\n", safetext.Line(r.RunbookErr.Error()))
	}
	fmt.Fprintf(w, "Started %s by %s on %s", textfmt.Stamp(id.Started), safetext.Line(d.People.Operator.Name), safetext.Line(id.ConsoleHost))
	if id.SSHClient != "" {
		fmt.Fprintf(w, " (SSH from %s)", safetext.Line(id.SSHClient))
	}
	if !id.Ended.IsZero() {
		fmt.Fprintf(w, "; ended %s after %s", textfmt.Stamp(id.Ended), textfmt.Duration(id.Ended.Sub(id.Started)))
	}
	fmt.Fprintln(w)
	if id.Reason != "" {
		fmt.Fprintf(w, "Reason: %s\n", safetext.Line(id.Reason))
	}
	var sites []string
	for _, s := range id.Sites {
		role := ""
		if s.Role != "" {
			role = " (" + s.Role + ")"
		}
		sites = append(sites, safetext.Line(s.Name)+role+" "+safetext.Line(s.URI))
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
		fmt.Fprintf(w, "Also at the console: %s on %s, %s\n", safetext.Line(o.Name), safetext.Line(o.Host), safetext.Line(o.Role))
	}
}

// writeTables is the steps and the gates, one row each.
func writeTables(w io.Writer, d *report.Doc) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSTEP\tRESULT\tSTARTED\tDURATION\tRETRIES\tSITE\tACTION")
	for _, s := range d.Timeline {
		dur := "—"
		if !s.Started.IsZero() {
			dur = textfmt.Duration(s.Duration)
		}
		action := textfmt.Clip(safetext.Line(s.Action), 50)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Order, safetext.Line(s.ID), textfmt.Result(s.Result), textfmt.TimeOfDay(s.Started), dur, s.Retries, safetext.Line(s.Site), action)
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", safetext.Line(g.Step), safetext.Line(g.Kind), textfmt.TimeOfDay(g.Opened), textfmt.Duration(g.Wait), safetext.Line(strings.Join(ds, "; ")))
			for _, t := range g.Checklist {
				fmt.Fprintf(tw, "\t\t%s\t\t☑ %s by %s\n", textfmt.TimeOfDay(t.At), safetext.Line(t.Item), safetext.Line(t.By))
			}
		}
		tw.Flush()
	}
}

// writeNotes is what the run accepted, what deviated, the validation
// evidence and the findings.
func writeNotes(w io.Writer, d *report.Doc) {
	if len(d.Accepted) > 0 {
		fmt.Fprintln(w, "\nReadiness at start:")
		for _, a := range d.Accepted {
			fmt.Fprintf(w, "  %s: %s — by %s: %s\n", safetext.Line(a.Severity), safetext.Line(a.Message), safetext.Line(a.By), safetext.Line(a.Reason))
		}
	}
	if len(d.Deviations) > 0 {
		fmt.Fprintln(w, "\nDeviations:")
		for _, x := range d.Deviations {
			step := ""
			if x.Step != "" {
				step = " " + safetext.Line(x.Step)
			}
			fmt.Fprintf(w, "  %s %s%s: %s\n", textfmt.TimeOfDay(x.At), strings.ReplaceAll(x.Kind, "_", " "), step, safetext.Line(x.Detail))
		}
	}
	if len(d.Validation) > 0 {
		fmt.Fprintln(w, "\nValidation evidence and notes:")
		for _, c := range d.Validation {
			mark := "✓"
			if !c.OK {
				mark = "✗"
			}
			fmt.Fprintf(w, "  %s %s %s", textfmt.TimeOfDay(c.At), mark, safetext.Line(c.Name))
			if c.Command != "" {
				fmt.Fprintf(w, ": %s", safetext.Line(c.Command))
			}
			fmt.Fprintln(w)
			if out := strings.TrimRight(c.Output, "\n"); out != "" {
				lines := strings.Split(out, "\n")
				if len(lines) > 6 {
					lines = append(lines[:6], fmt.Sprintf("… %d more lines (repli report has them all)", len(lines)-6))
				}
				for _, l := range lines {
					fmt.Fprintf(w, "      %s\n", safetext.Line(l))
				}
			}
		}
	}
	writeRestores(w, d.Restores)
	if len(d.Findings) > 0 {
		fmt.Fprintln(w, "\nFindings:")
		for _, f := range d.Findings {
			fmt.Fprintf(w, "  %s %s by %s", f.ID, textfmt.TimeOfDay(f.At), safetext.Line(f.By))
			if f.AfterRun {
				fmt.Fprintf(w, " after the run (%s)", f.At.UTC().Format("2006-01-02"))
			}
			if f.Step != "" {
				fmt.Fprintf(w, ", step %s", safetext.Line(f.Step))
			}
			fmt.Fprintf(w, ": %s", safetext.Line(f.Text))
			if f.Action != "" {
				fmt.Fprintf(w, " → %s", safetext.Line(f.Action))
			}
			if f.Owner != "" {
				fmt.Fprintf(w, " (owner %s)", safetext.Line(f.Owner))
			}
			if !f.Due.IsZero() {
				fmt.Fprintf(w, " due %s", f.Due.Format("2006-01-02"))
			}
			fmt.Fprintln(w)
		}
	}
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
	s += " by " + x.By + " at " + textfmt.TimeOfDay(x.At)
	if x.Signed {
		s += " (signed)"
	}
	return s
}

// writeRestores is section 11: each restore from an encrypted backup, who
// supplied its key and when, never the key.
func writeRestores(w io.Writer, rs []report.Restore) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nRestores from encrypted backups:")
	for _, r := range rs {
		fmt.Fprintf(w, "  %s %s: backup %s", textfmt.Result(r.Result), safetext.Line(r.Step), safetext.Line(textfmt.OrDash(r.BackupID)))
		if !r.TakenAt.IsZero() {
			fmt.Fprintf(w, ", taken %s (%s old when its key was used)", textfmt.Stamp(r.TakenAt), textfmt.Duration(r.Age))
		}
		fmt.Fprintln(w)
		switch {
		case r.SHA256 == "":
			fmt.Fprintln(w, "      checksum: ✗ not verified (no step stated it)")
		case r.Verified:
			fmt.Fprintf(w, "      checksum: ✓ sha256 %s, verified by step %s\n", r.SHA256, safetext.Line(r.ChecksumStep))
		default:
			fmt.Fprintf(w, "      checksum: ✗ sha256 %s, NOT verified (step %s did not succeed)\n", r.SHA256, safetext.Line(r.ChecksumStep))
		}
		fmt.Fprintf(w, "      key supplied by %s at %s: %s\n", safetext.Line(r.KeyUsedBy), textfmt.Stamp(r.KeyUsedAt), safetext.Line(r.KeySource))
		fmt.Fprintf(w, "      key id (never the key): %s\n", safetext.Line(textfmt.OrDash(r.KeyID)))
	}
}
