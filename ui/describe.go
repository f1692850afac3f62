package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/repli-dr/repli/engine"
)

// EventLine renders an event as one human line, the same for the log pane
// and for the plain CLI output. Events not worth a line return "".
func EventLine(ev engine.Event) string {
	if line, ok := actionLine(ev); ok {
		return line
	}
	switch e := ev.(type) {
	case *engine.RunStarted:
		s := fmt.Sprintf("run %d · %s · mode %s · operator %s", e.RunID, e.Runbook, e.Mode, e.Operator)
		if e.AutoApprove {
			s += " · gates answered automatically (--auto-approve, recorded)"
		}
		return s
	case *engine.StepChanged:
		s := fmt.Sprintf("%s %s", e.Step, StateLabel(e.State))
		if e.Reason != "" {
			s += ": " + e.Reason
		}
		return s
	case *engine.GateOpened:
		switch e.FormOf() {
		case engine.FormTyped:
			return fmt.Sprintf("%s waits: type %q to proceed", e.Step, e.Expect)
		case engine.FormChecklist:
			return fmt.Sprintf("%s waits: %d checklist item(s) to tick", e.Step, len(e.Checklist))
		case engine.FormManual:
			return fmt.Sprintf("%s waits: the operator says when the step is done", e.Step)
		default:
			return fmt.Sprintf("%s waits for confirmation", e.Step)
		}
	case *engine.ChecklistTicked:
		return fmt.Sprintf("%s ✓ %s (by %s)", e.Step, e.Text, e.Operator)
	case *engine.GateDecided:
		verdict := "approved"
		if !e.Approved {
			verdict = "REFUSED"
		}
		return fmt.Sprintf("%s %s by %s after %s", e.Step, verdict, e.Operator, FormatDuration(e.Waited))
	case *engine.Logged:
		prefix := ""
		if e.Level == "warn" {
			prefix = "! "
		}
		if e.Step == "" {
			return prefix + e.Message
		}
		return fmt.Sprintf("%s %s%s", e.Step, prefix, e.Message)
	case *engine.FailureOpened:
		return fmt.Sprintf("%s failed: retry, skip or abort? (%s)", e.Step, e.Error)
	case *engine.FailureDecided:
		return fmt.Sprintf("%s: %s (decided by %s)", e.Step, e.Choice, e.Operator)
	case *engine.RunResumed:
		s := fmt.Sprintf("run %d resumed by %s after %s away", e.RunID, e.Operator, FormatDuration(e.Gap))
		if e.InDoubt > 0 {
			s += fmt.Sprintf("; %d action(s) in doubt, checking live state", e.InDoubt)
		}
		return s
	case *engine.NoteAdded:
		return fmt.Sprintf("note by %s: %s", e.Operator, e.Text)
	case *engine.RTOStarted:
		return fmt.Sprintf("%s RTO clock started", e.Step)
	case *engine.RTOStopped:
		return fmt.Sprintf("%s RTO clock stopped at %s%s", e.Step, FormatDuration(e.Achieved), RTOVerdict(e.Achieved, e.Target))
	case *engine.RunEnded:
		s := fmt.Sprintf("run %d %s in %s", e.RunID, OutcomeLabel(e.Outcome), FormatDuration(e.Duration))
		if e.RTOAchieved > 0 {
			s += " · RTO " + FormatDuration(e.RTOAchieved) + RTOVerdict(e.RTOAchieved, e.RTOTarget)
		}
		if e.Reason != "" {
			s += " · " + e.Reason
		}
		return s
	}
	return ""
}

// actionLine renders the events of actions on hypervisors and commands.
func actionLine(ev engine.Event) (string, bool) {
	switch e := ev.(type) {
	case *engine.ActionIntent:
		if e.Site == "local" {
			return fmt.Sprintf("%s → %s: %s", e.Step, e.Verb, e.Detail), true
		}
		return fmt.Sprintf("%s → %s %s/%s", e.Step, e.Verb, e.Site, e.Domain), true
	case *engine.ActionOutcome:
		what := e.Verb
		if e.Site != "local" {
			what += " " + e.Site + "/" + e.Domain
		}
		if e.OK {
			return fmt.Sprintf("%s ✓ %s in %s", e.Step, what, e.Duration.Round(10*time.Millisecond)), true
		}
		return fmt.Sprintf("%s ✗ %s: %s", e.Step, what, e.Error), true
	case *engine.OutputCaptured:
		text := strings.TrimSpace(e.Text)
		if lines := strings.Split(text, "\n"); len(lines) > 3 {
			text = "… " + strings.Join(lines[len(lines)-3:], " ⏎ ")
		} else {
			text = strings.Join(lines, " ⏎ ")
		}
		return fmt.Sprintf("%s %s: %s", e.Step, e.Stream, text), true
	case *engine.ActionReconciled:
		verdict := "not done: the step will check and act again"
		if e.Done {
			verdict = "done"
		}
		return fmt.Sprintf("%s in doubt: %s %s/%s: %s (%s)", e.Step, e.Verb, e.Site, e.Domain, verdict, e.Note), true
	}
	return "", false
}

// RTOVerdict says whether an achieved recovery time met its target.
func RTOVerdict(achieved, target time.Duration) string {
	switch {
	case target == 0:
		return ""
	case achieved <= target:
		return fmt.Sprintf(" (within the %s target)", FormatDuration(target))
	default:
		return fmt.Sprintf(" (OVER the %s target by %s)", FormatDuration(target), FormatDuration(achieved-target))
	}
}

// GateKindLabel names what a gate waits for, in words.
func GateKindLabel(g *engine.GateOpened) string {
	switch g.FormOf() {
	case engine.FormTyped:
		return "a typed confirmation"
	case engine.FormChecklist:
		return "a checklist"
	case engine.FormManual:
		return "a manual step"
	}
	return "a confirmation"
}
