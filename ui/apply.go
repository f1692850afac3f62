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
	switch e := ev.(type) {
	case *engine.RunStarted:
		m.runID = e.RunID
	case *engine.StepChanged:
		i, ok := m.index[e.Step]
		if !ok {
			return
		}
		sv := m.steps[i]
		sv.state, sv.reason = e.State, e.Reason
		switch {
		case e.State == engine.StepWaiting || e.State == engine.StepRunning:
			if sv.began.IsZero() {
				sv.began = at
			}
			m.focus = i
		case e.State.Final():
			sv.ended = at
			if m.gate != nil && m.gate.ev.Step == e.Step {
				m.gate = nil
			}
		}
	case *engine.GateOpened:
		g := &gateView{ev: e, ticked: make([]bool, len(e.Checklist)), approvals: e.Approved}
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
		m.gate = g
		if i, ok := m.index[e.Step]; ok {
			m.focus = i
		}
	case *engine.ChecklistTicked:
		if m.gate != nil && m.gate.ev.Step == e.Step && e.Item < len(m.gate.ticked) {
			m.gate.ticked[e.Item] = true
		}
	case *engine.GateDecided:
		if m.gate != nil && m.gate.ev.Step == e.Step {
			if e.Complete() {
				m.gate = nil
			} else {
				m.gate.approvals = append(m.gate.approvals, e.Operator)
			}
		}
	case *engine.FailureOpened:
		m.failure = e
		if i, ok := m.index[e.Step]; ok {
			m.focus = i
		}
	case *engine.FailureDecided:
		if m.failure != nil && m.failure.Step == e.Step {
			m.failure = nil
		}
	case *engine.RunResumed:
		m.runID = e.RunID
	case *engine.RTOStarted:
		m.rtoStart = at
	case *engine.RTOStopped:
		m.rtoStop = at
	case *engine.RunEnded:
		m.ended = e
		if m.cfg.Anchor != nil {
			m.anchor = m.cfg.Anchor()
		}
		if m.rtoStop.IsZero() && !m.rtoStart.IsZero() {
			m.rtoStop = at
		}
	}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
