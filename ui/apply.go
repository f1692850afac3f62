package ui

import (
	"fmt"
	"strings"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
)

const maxLogLines = 500

// apply gives one engine event to the projection, and keeps what is the
// screen's own: the log line, which step has the focus, the ticks shown.
func (m *RunModel) apply(ev engine.Event) {
	at := ev.EventMeta().At
	if line := EventLine(ev); line != "" {
		warn := false
		switch e := ev.(type) {
		case *engine.Logged:
			warn = e.Level != "info"
		case *engine.ActionOutcome:
			warn = !e.OK
		case *engine.StepChanged:
			warn = e.State == engine.StepFailed
		case *engine.GateDecided:
			warn = !e.Approved
		case *engine.FailureOpened:
			warn = true
		}
		m.logs = append(m.logs, logLine{at: at, text: safetext.Line(line), warn: warn})
		if len(m.logs) > maxLogLines*2 {
			m.logs = append(m.logs[:0], m.logs[len(m.logs)-maxLogLines:]...)
		}
	}
	m.prog.Apply(ev)
	switch e := ev.(type) {
	case *engine.RunStarted:
		m.runID = e.RunID
	case *engine.RunResumed:
		m.runID = e.RunID
	case *engine.StepChanged:
		if i, ok := m.index[e.Step]; ok && (e.State == engine.StepWaiting || e.State == engine.StepRunning) {
			m.focus = i
		}
	case *engine.GateOpened:
		m.focusStep(e.Step)
	case *engine.ChecklistTicked:
		if f, ok := unwrap(m.form).(checklistForm); ok && f.step == e.Step {
			f.tick(e.Item)
		}
	case *engine.FailureOpened:
		m.focusStep(e.Step)
	case *engine.RunEnded:
		if m.cfg.Anchor != nil {
			m.anchor = m.cfg.Anchor()
		}
	}
}

// unwrap is the form inside a two-person gate.
func unwrap(f form) form {
	if t, ok := f.(twoPersonForm); ok {
		return t.form
	}
	return f
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func trimSpace(s string) string { return strings.TrimSpace(s) }
