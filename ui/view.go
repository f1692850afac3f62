package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/repli-dr/repli/engine"
)

// Smallest usable screen; below it the screen says so instead of garbling.
const (
	minWidth  = 60
	minHeight = 16
)

// View renders the whole screen, exactly width×height, so nothing scrolls.
func (m *RunModel) View() string {
	if m.width < minWidth || m.height < minHeight {
		return fmt.Sprintf("repli needs at least %d×%d; this terminal is %d×%d.\nEnlarge it (the run goes on; nothing is lost).", minWidth, minHeight, m.width, m.height)
	}
	header := m.headerLine()
	detail := m.detailLines()
	sites := m.sitesLine()
	help := m.helpLine()
	rule := m.st.Rule.Render(strings.Repeat("─", m.width))

	fixed := 5 // header, help and three rules
	if sites != "" {
		fixed++
	}
	remaining := m.height - fixed - len(detail)
	stepsH := min(len(m.rb.Steps), max(3, remaining*6/10))
	logH := max(0, remaining-stepsH)

	var b []string
	b = append(b, header)
	if sites != "" {
		b = append(b, sites)
	}
	b = append(b, rule)
	b = append(b, m.stepLines(stepsH)...)
	b = append(b, rule)
	b = append(b, detail...)
	b = append(b, rule)
	b = append(b, m.logLines(logH)...)
	b = append(b, help)
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

func (m *RunModel) headerLine() string {
	left := m.st.Header.Render("repli") + " · " + m.rb.Name + " · " + m.d.Options().Mode
	if m.cfg.ReadOnly {
		left += " · WATCHING"
	}
	if m.runID != 0 {
		left += fmt.Sprintf(" · run %d", m.runID)
	}
	right := m.clock()
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return left
	}
	return left + strings.Repeat(" ", gap) + right
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
	case m.prog.Ended != nil && m.prog.Ended.RTOAchieved == 0:
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

// sitesLine shows each site's health and how many of its domains run.
func (m *RunModel) sitesLine() string {
	if len(m.sites) == 0 {
		return ""
	}
	var parts []string
	for _, name := range m.rb.SiteNames() {
		st, ok := m.sites[name]
		switch {
		case !ok:
			parts = append(parts, name+" …")
		case !st.Reachable:
			parts = append(parts, m.st.Fail.Render("✗ "+name+" unreachable"))
		default:
			running := 0
			for _, s := range st.Domains {
				if s == engine.StateRunning || s == engine.StateBlocked {
					running++
				}
			}
			parts = append(parts, fmt.Sprintf("✓ %s up, %d/%d running", name, running, len(st.Domains)))
		}
	}
	return m.st.Dim.Render("sites: ") + strings.Join(parts, " · ")
}

// liveLine shows the live state of the domains a step acts on.
func (m *RunModel) liveLine(site string, doms []string) string {
	st, ok := m.sites[site]
	if !ok || !st.Reachable || len(doms) == 0 {
		return ""
	}
	parts := make([]string, 0, len(doms))
	for _, d := range doms {
		s, ok := st.Domains[d]
		if !ok {
			s = "missing"
		}
		parts = append(parts, d+" "+string(s))
	}
	return m.st.Dim.Render("live at "+site+": ") + strings.Join(parts, " · ")
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
	var out []string
	for i := first; i < len(m.rb.Steps) && len(out) < h; i++ {
		step := m.rb.Steps[i]
		sp := m.stepProgress(step.ID)
		marker := "  "
		if i == m.focus && !m.closed {
			marker = "› "
		}
		dur := ""
		if !sp.Began.IsZero() {
			dur = FormatDuration(sp.Duration(m.now))
		}
		label := m.stateStyle(sp.State).Render(fmt.Sprintf("%-10s", StateLabel(sp.State)))
		titleW := max(8, m.width-2-11-idW-1-8)
		title := ansi.Truncate(step.Title, titleW, "…")
		line := fmt.Sprintf("%s%s %-*s %-*s %7s", marker, label, idW, ansi.Truncate(step.ID, idW, "…"), titleW, title, dur)
		out = append(out, line)
	}
	return out
}

// detailLines shows the focused step, its gate, or the run's summary.
func (m *RunModel) detailLines() []string {
	if m.confirmQuit {
		return []string{
			m.st.Warn.Render("Stop driving this run and quit?"),
			"The run stops where it is and stays in the audit trail; nothing is undone.",
			m.st.Bold.Render("y") + " quit · any other key stays",
		}
	}
	if m.showHelp {
		return []string{
			m.st.Bold.Render("Keys") + m.st.Dim.Render(" (? closes this help)"),
			"manual step   space tick · ↑↓ move · enter step done · esc refuse",
			"confirm gate  y proceeds · any other key refuses (then r retries)",
			"typed gate    type the site name exactly, enter · esc refuses",
			"after failure r retry · m mark done · s skip · a abort the run",
			"any time      n note into the audit trail · q quit (the run stays resumable)",
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
	failure, gate := m.prog.Failure, m.prog.Gate
	out := []string{m.st.Bold.Render(step.ID) + " · " + step.Title}
	if failure != nil && failure.Step == step.ID {
		out = append(out, m.wrap(m.st.Error.Render("✗ "+failure.Error), 3)...)
		out = append(out, m.st.GateBox.Render("⏸ failed: "+ChoiceKeys(failure.Choices)))
	} else if m.openGate() != nil && gate.Step == step.ID {
		out = append(out, m.gateLines()...)
	} else if sp.State == engine.StepFailed && sp.Reason != "" {
		out = append(out, m.wrap(m.st.Error.Render("✗ "+sp.Reason), 3)...)
	} else if site, doms := step.Target(); site != "" {
		if live := m.liveLine(site, doms); live != "" {
			out = append(out, live)
		} else {
			out = append(out, m.st.Dim.Render(fmt.Sprintf("%s at %s: %s", step.Kind, site, strings.Join(doms, ", "))))
		}
	}
	if m.noting {
		out = append(out, m.note.View())
	}
	if m.errText != "" {
		out = append(out, m.st.Error.Render(m.errText))
	}
	return out
}

// stepProgress is a step's progress, pending when the run has not reached it.
func (m *RunModel) stepProgress(id string) *engine.StepProgress {
	if sp, ok := m.prog.Steps[id]; ok {
		return sp
	}
	return &engine.StepProgress{ID: id, State: engine.StepPending}
}

func (m *RunModel) gateLines() []string {
	g, ev := m.gate, m.prog.Gate
	var out []string
	if m.cfg.ReadOnly {
		out = append(out, m.wrap(ev.Prompt, 2)...)
		return append(out, m.st.GateBox.Render("⏸ waiting for the driving console to answer: "+GateKindLabel(ev.GateOpened)))
	}
	switch {
	case ev.Expect != "":
		out = append(out, m.wrap(ev.Prompt, 2)...)
		out = append(out, m.st.GateBox.Render(fmt.Sprintf("⏸ typed gate: type %q and press enter to proceed · esc refuses", ev.Expect)))
		out = append(out, g.input.View())
	case ev.FormOf() == engine.FormChecklist || ev.FormOf() == engine.FormManual:
		out = append(out, m.wrap(ev.Prompt, 2)...)
		for i, item := range ev.Checklist {
			box := "[ ]"
			if g.ticked[i] {
				box = "[✓]"
			}
			cur := "  "
			if i == g.cursor {
				cur = "› "
			}
			out = append(out, cur+box+" "+item)
		}
		if ev.Record {
			out = append(out, g.input.View())
		}
		out = append(out, m.st.GateBox.Render("⏸ manual step: space ticks an item · enter when the step is done · esc refuses"))
	default:
		out = append(out, m.wrap(ev.Prompt, 2)...)
		out = append(out, m.st.GateBox.Render("⏸ confirm: press y to proceed · any other key refuses"))
	}
	if ev.Approvers > 1 {
		line := fmt.Sprintf("needs %d different approvers", ev.Approvers)
		if len(ev.Approvals) > 0 {
			line += fmt.Sprintf("; approved by %s; the next one runs: repli approve %d %s", strings.Join(ev.Approvals, ", "), m.runID, ev.Step)
		}
		out = append(out, m.st.Warn.Render(line))
	}
	if g.hint != "" {
		out = append(out, m.st.Warn.Render(g.hint))
	}
	return out
}

func (m *RunModel) summaryLines() []string {
	e := m.prog.Ended
	style := m.st.Done
	if e.Outcome != engine.OutcomeSucceeded {
		style = m.st.Fail
	}
	out := []string{style.Render(fmt.Sprintf("Run %d %s in %s", m.runID, OutcomeLabel(e.Outcome), FormatDuration(e.Duration)))}
	if e.RTOAchieved > 0 {
		out = append(out, "Recovery time "+FormatDuration(e.RTOAchieved)+RTOVerdict(e.RTOAchieved, e.RTOTarget))
	}
	if e.Reason != "" {
		out = append(out, m.wrap(e.Reason, 2)...)
	}
	out = append(out, m.st.Dim.Render("Audit trail: "+m.cfg.DB+" · repli history lists this run"))
	if m.anchor != "" {
		// On a line of its own, whole: it is copied into the change ticket.
		out = append(out, m.st.Dim.Render("Anchor for the change ticket (repli verify --anchor checks it):"), m.anchor)
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
		line := m.st.Dim.Render(l.at.Local().Format("15:04:05")) + " " + l.text
		if l.warn {
			line = m.st.Dim.Render(l.at.Local().Format("15:04:05")) + " " + m.st.Warn.Render(l.text)
		}
		out = append(out, line)
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out
}

func (m *RunModel) helpLine() string {
	var keys []string
	switch {
	case m.cfg.ReadOnly:
		keys = []string{"watching read-only: the driving console answers gates", "q quit"}
	case m.confirmQuit:
		keys = []string{"y quit", "any key stay"}
	case m.noting:
		keys = []string{"enter save note", "esc cancel"}
	case m.closed:
		keys = []string{"q quit"}
	case m.prog.Failure != nil:
		keys = []string{ChoiceKeys(m.prog.Failure.Choices), "n note", "q quit"}
	case m.openGate() != nil && m.prog.Gate.FormOf() == engine.FormTyped:
		keys = []string{"type the site name", "enter proceed", "esc refuse", "ctrl+c quit"}
	case m.openGate() != nil && (m.prog.Gate.FormOf() == engine.FormChecklist || m.prog.Gate.FormOf() == engine.FormManual):
		keys = []string{"↑↓ move", "space tick", "enter done", "esc refuse", "n note", "q quit"}
	case m.openGate() != nil:
		keys = []string{"y proceed", "any other key refuses", "ctrl+c quit"}
	default:
		keys = []string{"n note", "q quit"}
	}
	if !m.showHelp && m.gate == nil && m.prog.Failure == nil && !m.confirmQuit && !m.noting && !m.cfg.ReadOnly {
		keys = append(keys, "? help")
	}
	return m.st.Help.Render(strings.Join(keys, " · "))
}

// openGate is the gate the screen answers, if one is open.
func (m *RunModel) openGate() *engine.OpenGate {
	if m.gate == nil || m.prog.Gate == nil {
		return nil
	}
	return m.prog.Gate
}
