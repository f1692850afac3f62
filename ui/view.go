package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
)

// Smallest usable screen; below it the screen says so instead of garbling.
const (
	minWidth  = 60
	minHeight = 16
)

// View renders the whole screen, exactly width×height, so nothing scrolls.
// Only what fits is rendered: the cost of a frame follows the screen, not
// the estate.
func (m *RunModel) View() string {
	if m.width < minWidth || m.height < minHeight {
		return fmt.Sprintf("repli needs at least %d×%d; this terminal is %d×%d.\nEnlarge it (the run goes on; nothing is lost).", minWidth, minHeight, m.width, m.height)
	}
	header := m.headerLine()
	detail := m.detailLines()
	foot := m.footerLine()
	rule := m.st.Rule.Render(strings.Repeat("─", m.width))

	const fixed = 5 // header, footer and three rules
	rem := max(0, m.height-fixed-len(detail))
	stepsH := min(len(m.rb.Steps), max(3, rem*35/100))
	sitesH := 0
	if len(m.sites.names) > 0 {
		sitesH = min(m.sitesWanted(), max(2, rem*35/100))
	}
	logH := max(0, rem-stepsH-sitesH)
	if sitesH == 0 {
		logH++ // no rule between the steps and the sites
	}

	b := make([]string, 0, m.height)
	b = append(b, header)
	b = append(b, m.stepLines(stepsH)...)
	if sitesH > 0 {
		b = append(b, rule)
		b = append(b, m.sitesLines(sitesH)...)
	}
	b = append(b, rule)
	b = append(b, detail...)
	b = append(b, rule)
	b = append(b, m.logLines(logH)...)
	for len(b) < m.height-1 {
		b = append(b, "")
	}
	b = append(b[:m.height-1], foot)
	for i := range b {
		b[i] = strings.TrimRight(m.fit(b[i]), " ")
	}
	return strings.Join(b, "\n")
}

// fit truncates a line to the screen width.
func (m *RunModel) fit(s string) string {
	if lipgloss.Width(s) > m.width {
		return ansi.Truncate(s, m.width, "…")
	}
	return s
}

// headerLine names the run, left, and shows the RTO clock, right. The
// clock is never cut: the name gives way to it on a narrow screen.
func (m *RunModel) headerLine() string {
	left := m.st.Header.Render("repli")
	if m.cfg.Simulated {
		left += " · " + m.st.Warn.Render("SIMULATED")
	}
	left += " · " + safetext.Line(m.rb.Name) + " · " + safetext.Line(m.d.Options().Mode)
	if m.cfg.ReadOnly {
		left += " · WATCHING"
	}
	if m.runID != 0 {
		left += fmt.Sprintf(" · run %d", m.runID)
	}
	if m.cfg.Replica != nil {
		if r := m.cfg.Replica(); r != "" {
			left += " · " + safetext.Line(r)
		}
	}
	right := m.clock()
	room := m.width - lipgloss.Width(right) - 1
	if lipgloss.Width(left) > room {
		left = ansi.Truncate(left, max(0, room), "…")
	}
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	return left + strings.Repeat(" ", max(1, gap)) + right
}

// clock renders the RTO clock: elapsed since rto: start, against the target.
func (m *RunModel) clock() string {
	target := m.rb.RTO
	tgt := ""
	if target > 0 {
		tgt = " / " + FormatDuration(target)
	}
	elapsed, started := m.prog.RTO(m.now)
	if !started {
		return m.st.Dim.Render("RTO not started" + tgt)
	}
	text := "RTO " + FormatClock(elapsed) + tgt
	switch {
	case m.prog.Ended != nil && m.prog.Ended.RTOAchieved == 0 && m.prog.RTOStop.IsZero():
		return m.st.ClockOver.Render("RTO ✗ not reached (" + FormatClock(elapsed) + tgt + ")")
	case !m.prog.RTOStop.IsZero():
		text = "RTO ✓ " + FormatClock(elapsed) + tgt
	}
	if target > 0 && elapsed > target {
		return m.st.ClockOver.Render(text + " OVER")
	}
	return m.st.ClockOK.Render(text)
}

func (m *RunModel) stateStyle(s engine.StepState) lipgloss.Style {
	switch s {
	case engine.StepWaiting:
		return m.st.Waiting
	case engine.StepRunning:
		return m.st.Running
	case engine.StepSucceeded:
		return m.st.Done
	case engine.StepFailed:
		return m.st.Fail
	}
	return m.st.Pending
}

// ChoiceKeys lists the keys of a failure's choices, in the engine's order.
func ChoiceKeys(cs []engine.Choice) string {
	labels := map[engine.Choice]string{
		engine.ChoiceRetry:    "r retry",
		engine.ChoiceMarkDone: "m mark done",
		engine.ChoiceSkip:     "s skip (not a success)",
		engine.ChoiceAbort:    "a abort the run",
	}
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		if l, ok := labels[c]; ok {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " · ")
}

// stepLines renders up to h step rows, scrolled so the focused step shows.
func (m *RunModel) stepLines(h int) []string {
	first := 0
	if m.focus >= h {
		first = m.focus - h + 1
	}
	idW := 4
	for _, s := range m.rb.Steps {
		idW = max(idW, min(22, len(s.ID)))
	}
	out := make([]string, 0, h)
	for i := first; i < len(m.rb.Steps) && len(out) < h; i++ {
		step := m.rb.Steps[i]
		sp := m.stepProgress(step.ID)
		marker := "  "
		if i == m.focus && m.prog.Ended == nil && !m.closed {
			marker = "› "
		}
		dur := ""
		if !sp.Began.IsZero() {
			dur = FormatDuration(sp.Duration(m.now))
		}
		label := m.stateStyle(sp.State).Render(fmt.Sprintf("%-10s", StateLabel(sp.State)))
		titleW := max(8, m.width-2-11-idW-1-8)
		title := ansi.Truncate(safetext.Line(step.Title), titleW, "…")
		id := ansi.Truncate(safetext.Line(step.ID), idW, "…")
		out = append(out, fmt.Sprintf("%s%s %-*s %-*s %7s", marker, label, idW, id, titleW, title, dur))
	}
	return out
}

// detailLines shows the open prompt, the focused step and its gate or
// failure, or the run's summary.
func (m *RunModel) detailLines() []string {
	switch m.Mode() {
	case ModeQuitConfirm:
		return []string{
			m.st.Warn.Render("Stop driving this run and quit?"),
			"The run stops where it is and stays in the audit trail; nothing is undone.",
			m.st.Bold.Render("y") + " quit · any other key stays",
		}
	case ModeHelp:
		return m.helpLines()
	case ModeAbortConfirm:
		return []string{
			m.st.Fail.Render("Abort the run at " + safetext.Line(m.prog.Failure.Step) + "?"),
			"The run ends as aborted: the steps after this one are not run; nothing is undone.",
			m.st.Bold.Render("y") + " abort the run · any other key goes back",
		}
	}
	if m.prog.Ended != nil {
		return m.summaryLines()
	}
	if len(m.rb.Steps) == 0 {
		return nil
	}
	step := m.rb.Steps[m.focus]
	sp := m.stepProgress(step.ID)
	out := []string{m.st.Bold.Render(safetext.Line(step.ID)) + " · " + safetext.Line(step.Title)}
	if c := m.countStep(step); c.total > 0 && (sp.State != engine.StepPending || c.done+c.working+c.failed > 0) {
		out = append(out, m.st.Running.Render("▶ "+c.String()))
	}
	gate := m.prog.Gate
	switch {
	case m.cfg.ReadOnly && gate != nil && gate.Step == step.ID:
		out = append(out, m.wrap(safetext.Terminal(gate.Prompt), 2)...)
		out = append(out, m.st.GateBox.Render("⏸ waiting for the driving console to answer "+GateKindLabel(gate.GateOpened)))
	case m.cfg.ReadOnly && m.prog.Failure != nil && m.prog.Failure.Step == step.ID:
		out = append(out, m.wrap(m.st.Error.Render("✗ "+safetext.Line(reasonFirst(m.prog.Failure.Error))), 3)...)
		out = append(out, m.st.GateBox.Render("⏸ failed: waiting for the driving console to choose"))
	case m.form != nil && stepOfForm(m) == step.ID:
		out = append(out, m.form.lines(m)...)
		if step == m.rb.Steps[len(m.rb.Steps)-1] {
			out = append(out, m.soFarLine())
		}
	case sp.State == engine.StepFailed && sp.Reason != "":
		out = append(out, m.wrap(m.st.Error.Render("✗ "+safetext.Line(reasonFirst(sp.Reason))), 3)...)
	}
	if m.holder != nil && (m.cfg.ReadOnly || m.holder.Gone) {
		out = append(out, m.holderLines()...)
	}
	switch m.Mode() {
	case ModeNote, ModeSkipReason:
		if m.Mode() == ModeSkipReason {
			out = append(out, m.st.Warn.Render("Skip "+safetext.Line(m.prog.Failure.Step)+": the run will not count as a success. Why?"))
		}
		out = append(out, m.input.View())
		if m.hint != "" {
			out = append(out, m.st.Warn.Render(m.hint))
		}
	}
	if m.errText != "" {
		out = append(out, m.st.Error.Render(safetext.Line(m.errText)))
	}
	return out
}

func stepOfForm(m *RunModel) string {
	if m.prog.Failure != nil {
		return m.prog.Failure.Step
	}
	return stepOfGate(m.prog.Gate)
}

// soFarLine is the run's standing, shown at the last step before it ends:
// what the change ticket will say.
func (m *RunModel) soFarLine() string {
	s := "so far:"
	if rto, ok := m.prog.RTO(m.now); ok {
		s += " RTO " + FormatDuration(rto) + RTOVerdict(rto, m.rb.RTO)
	} else {
		s += " RTO not measured"
	}
	if n := len(m.prog.Failures); n > 0 {
		s += " · " + plural(n, "step skipped after failure", "steps skipped after failure")
	} else {
		s += " · no step failed or skipped"
	}
	return m.st.Dim.Render(s + " · the anchor is shown when the run ends")
}

// holderLines say whether the console driving a watched run is there.
func (m *RunModel) holderLines() []string {
	h := m.holder
	if !h.Gone {
		return m.wrap(m.st.Dim.Render("driven by "+safetext.Line(h.Who)), 1)
	}
	s := "✗ DRIVER GONE"
	if !m.cfg.ReadOnly {
		// This console drives the run through its detached engine: the
		// engine is what is gone, and it says how to carry on.
		s = "✗ ENGINE GONE"
	}
	if !h.Since.IsZero() {
		s += fmt.Sprintf(" since %s (%s ago)", h.Since.Local().Format("15:04:05"), FormatDuration(m.now.Sub(h.Since)))
	}
	out := []string{m.st.Fail.Render(s + ": nobody drives this run")}
	if !m.cfg.ReadOnly {
		return append(out, m.wrap(m.st.Dim.Render(safetext.Line(h.Why)), 2)...)
	}
	return append(out, m.wrap(m.st.Dim.Render(fmt.Sprintf("%s · to carry it on: repli resume %d", safetext.Line(h.Why), m.runID)), 2)...)
}

// stepProgress is a step's progress, pending when the run has not reached it.
func (m *RunModel) stepProgress(id string) *engine.StepProgress {
	if sp, ok := m.prog.Steps[id]; ok {
		return sp
	}
	return &engine.StepProgress{ID: id, State: engine.StepPending}
}

// helpLines is the help screen, generated from the key map.
func (m *RunModel) helpLines() []string {
	out := []string{m.st.Bold.Render("Keys") + m.st.Dim.Render(" (? or esc closes this help)")}
	for _, s := range m.keys.helpSections() {
		out = append(out, fmt.Sprintf("%-14s%s", s[0], s[1]))
	}
	return out
}

// summaryLines is the end of the run, on screen; Summary is the same for
// the terminal's scrollback.
func (m *RunModel) summaryLines() []string {
	e := m.prog.Ended
	style := m.st.Done
	if e.Outcome != engine.OutcomeSucceeded {
		style = m.st.Fail
	}
	lines := m.summaryText()
	out := []string{style.Render(lines[0])}
	for _, l := range lines[1:] {
		out = append(out, m.wrap(l, 2)...)
	}
	return out
}

// wrap word-wraps text to the screen width, at most n lines.
func (m *RunModel) wrap(s string, n int) []string {
	lines := strings.Split(lipgloss.NewStyle().Width(m.width).Render(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
		lines[n-1] = ansi.Truncate(lines[n-1], m.width-1, "") + "…"
	}
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return lines
}

func (m *RunModel) logLines(h int) []string {
	if h <= 0 {
		return nil
	}
	start := max(0, len(m.logs)-h)
	out := make([]string, 0, h)
	for _, l := range m.logs[start:] {
		ts := m.st.Dim.Render(l.at.Local().Format("15:04:05"))
		text := l.text
		if l.warn {
			text = m.st.Warn.Render(text)
		}
		out = append(out, ts+" "+text)
	}
	return out
}

// footerLine is the mode's keys, from the key map; ? is on every footer.
func (m *RunModel) footerLine() string {
	mode := m.Mode()
	bs := m.keys.bindings(mode, m.form)
	prefix := ""
	if mode == ModeWatch {
		prefix = m.st.Help.Render("read-only · ")
	}
	return prefix + footer(m.help, m.width-lipgloss.Width(prefix), bs)
}
