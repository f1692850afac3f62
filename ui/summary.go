package ui

import (
	"fmt"
	"strings"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
)

// summaryText is the end of a run in plain lines: outcome, recovery time
// against its target, the steps that failed or were skipped, where the
// trail is and its anchor. The first line is the outcome.
func (m *RunModel) summaryText() []string {
	e := m.prog.Ended
	out := []string{fmt.Sprintf("Run %d %s in %s", m.runID, OutcomeLabel(e.Outcome), FormatDuration(e.Duration))}
	if m.cfg.Simulated {
		out[0] += " (simulated sites)"
	}
	switch {
	case e.RTOAchieved > 0:
		out = append(out, "RTO "+FormatDuration(e.RTOAchieved)+RTOVerdict(e.RTOAchieved, e.RTOTarget))
	case !m.prog.RTOStart.IsZero():
		rto, _ := m.prog.RTO(m.now)
		out = append(out, "RTO ✗ not reached: the clock ran "+FormatDuration(rto)+" and never stopped")
	}
	var failed, skipped []string
	for _, sp := range m.prog.StepsInOrder(m.rb) {
		if sp.State == engine.StepFailed {
			failed = append(failed, safetext.Line(sp.ID))
		}
	}
	for _, f := range m.prog.Failures {
		// The step's own reason says who skipped it and why, once the
		// engine records the reason typed at the skip prompt.
		id, _, _ := strings.Cut(f, " (")
		if sp, ok := m.prog.Steps[id]; ok && sp.State == engine.StepSkipped && sp.Reason != "" {
			f = id + " (" + sp.Reason + ")"
		}
		skipped = append(skipped, safetext.Line(f))
	}
	if len(failed) > 0 {
		out = append(out, "Failed: "+strings.Join(failed, ", "))
	}
	if len(skipped) > 0 {
		out = append(out, "Skipped: "+strings.Join(skipped, "; "))
	}
	if e.Reason != "" {
		out = append(out, safetext.Line(e.Reason))
	}
	out = append(out, "Audit trail: "+safetext.Line(m.cfg.DB)+" · repli history lists this run")
	if m.anchor != "" {
		// On a line of its own, whole: it is copied into the change ticket.
		out = append(out, "Anchor for the change ticket (repli verify --anchor checks it):", m.anchor)
	}
	return out
}

// Summary is the ended run's summary as plain text, for the terminal's
// scrollback once the full-screen UI has closed; "" while the run has not
// ended.
func (m *RunModel) Summary() string {
	if m.prog.Ended == nil {
		return ""
	}
	return strings.Join(m.summaryText(), "\n") + "\n"
}
