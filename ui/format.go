// Package ui is repli's terminal interface: Bubble Tea models that consume
// engine events and send operator inputs back. It holds no logic of the run.
package ui

import (
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/textfmt"
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
func OutcomeLabel(o engine.Outcome) string { return textfmt.Outcome(string(o)) }

// FormatDuration renders a duration the way an operator reads a clock:
// 42s, 3m07s, 30m, 1h02m.
func FormatDuration(d time.Duration) string { return textfmt.Duration(d) }

// FormatClock renders elapsed time as H:MM:SS, for the RTO clock.
func FormatClock(d time.Duration) string { return textfmt.Clock(d) }
