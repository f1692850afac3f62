// Package ui is repli's terminal interface: Bubble Tea models that consume
// engine events and send operator inputs back. It holds no logic of the run.
package ui

import (
	"fmt"
	"time"

	"github.com/repli-dr/repli/engine"
)

// StateLabel is a step state as glyph and word, never colour alone.
func StateLabel(s engine.StepState) string {
	switch s {
	case engine.StepPending:
		return "· pending"
	case engine.StepWaiting:
		return "⏸ waiting"
	case engine.StepRunning:
		return "▶ running"
	case engine.StepSucceeded:
		return "✓ done"
	case engine.StepFailed:
		return "✗ failed"
	case engine.StepSkipped:
		return "↷ skipped"
	}
	return "? " + string(s)
}

// OutcomeLabel is a run outcome as glyph and word.
func OutcomeLabel(o engine.Outcome) string {
	switch o {
	case engine.OutcomeSucceeded:
		return "✓ succeeded"
	case engine.OutcomeFailed:
		return "✗ failed"
	case engine.OutcomeAborted:
		return "✗ aborted"
	case engine.OutcomeRunning:
		return "▶ running"
	}
	return string(o)
}

// FormatDuration renders a duration the way an operator reads a clock:
// 42s, 3m07s, 30m, 1h02m.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour && int(d.Seconds())%60 == 0:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// FormatClock renders elapsed time as H:MM:SS, for the RTO clock.
func FormatClock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Seconds())
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}
