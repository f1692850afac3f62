package ui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/textinput"

	"github.com/repli-dr/repli/engine"
)

const maxLogLines = 500

// apply folds one engine event into what the screen shows.
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
		m.logs = append(m.logs, logLine{at: at, text: line, warn: warn})
		if len(m.logs) > maxLogLines {
			m.logs = m.logs[len(m.logs)-maxLogLines:]
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
		if e.State.Final() && m.gate != nil && m.gate.step == e.Step {
			m.gate = nil
		}
	case *engine.GateOpened:
		m.gate = newGateView(e, m.prog.Gate)
		if i, ok := m.index[e.Step]; ok {
			m.focus = i
		}
	case *engine.ChecklistTicked:
		if m.gate != nil && m.gate.step == e.Step && e.Item < len(m.gate.ticked) {
			m.gate.ticked[e.Item] = true
		}
	case *engine.GateDecided:
		if m.gate != nil && m.gate.step == e.Step && m.prog.Gate == nil {
			m.gate = nil
		}
	case *engine.FailureOpened:
		if i, ok := m.index[e.Step]; ok {
			m.focus = i
		}
	case *engine.RunEnded:
		m.gate = nil
		if m.cfg.Anchor != nil {
			m.anchor = m.cfg.Anchor()
		}
	}
}

// newGateView is the screen's part of an open gate: the cursor, what is
// being typed, and ticks shown at once (the engine records them in order).
func newGateView(e *engine.GateOpened, open *engine.OpenGate) *gateView {
	g := &gateView{step: e.Step, ticked: make([]bool, len(e.Checklist))}
	if open != nil {
		for i := range g.ticked {
			g.ticked[i] = open.Ticked[i]
		}
	}
	if e.Expect != "" || e.Record {
		g.input = textinput.New()
		g.input.Prompt = "> "
		g.input.CharLimit = 100
		if e.Record {
			g.input.CharLimit = 2000
			g.input.Placeholder = "what was done or found (kept in the audit trail)"
		}
		g.input.Focus()
	}
	return g
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
