package ui

import (
	"strings"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// PreflightModel shows the readiness of the sites before a run starts, in
// the terminal UI. A ready plan with warnings starts on enter; an unready
// one starts only when the operator types why (the reason is recorded).
type PreflightModel struct {
	report []string // the readiness table, as printed by repli check
	ready  bool
	input  textinput.Model
	st     Styles
	width  int
	height int
	scroll int
	start  bool
	hint   string
	// onDone, when set, is the command run on the decision (inside the
	// console); otherwise the program quits with Decision set.
	onDone func(start bool, reason string) tea.Cmd
	// modeLabel is the run mode checked, shown when tab can change it.
	modeLabel string
	showHelp  bool
}

// NewPreflightModel builds the screen from the readiness report's lines.
func NewPreflightModel(report string, ready bool, r *lipgloss.Renderer) *PreflightModel {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	m := &PreflightModel{report: strings.Split(strings.TrimRight(report, "\n"), "\n"), ready: ready, st: NewStyles(r), width: 80, height: 24}
	m.input = textinput.New()
	m.input.Prompt = "reason> "
	m.input.Placeholder = "why start although the plan is not ready"
	m.input.CharLimit = 500
	if !ready {
		m.input.Focus()
	}
	return m
}

// Decision says whether to start, and the override reason when not ready.
func (m *PreflightModel) Decision() (start bool, reason string) {
	return m.start, strings.TrimSpace(m.input.Value())
}

// Init implements tea.Model.
func (m *PreflightModel) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m *PreflightModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tea.KeyMsg:
		if m.showHelp {
			m.showHelp = false
			return m, nil
		}
		if keyOf(msg) == "f1" || (m.ready && keyOf(msg) == "?") {
			m.showHelp = true
			return m, nil
		}
		switch keyOf(msg) {
		case "ctrl+c", "esc":
			return m, m.done(false)
		case "up":
			m.scroll = max(0, m.scroll-1)
			return m, nil
		case "down":
			m.scroll = min(max(0, len(m.report)-1), m.scroll+1)
			return m, nil
		case "enter":
			if !m.ready && strings.TrimSpace(m.input.Value()) == "" {
				m.hint = "type the reason first: it is recorded with the run"
				return m, nil
			}
			m.start = true
			return m, m.done(true)
		case "q":
			if m.ready {
				return m, m.done(false)
			}
		}
		if !m.ready {
			return m, typeInto(&m.input, msg)
		}
	}
	return m, nil
}

func (m *PreflightModel) done(start bool) tea.Cmd {
	if m.onDone != nil {
		return m.onDone(start, strings.TrimSpace(m.input.Value()))
	}
	return tea.Quit
}

// View implements tea.Model.
func (m *PreflightModel) View() string {
	var head, foot []string
	if m.ready && m.modeLabel != "" {
		head = []string{m.st.Done.Render("✓ ready: read the plan and the warnings, then press enter to start")}
		foot = []string{m.st.Help.Render("enter start the run · esc cancel · ↑↓ scroll")}
	} else if m.ready {
		head = []string{m.st.Warn.Render("⚠ ready, with warnings: read them before you start")}
		foot = []string{m.st.Help.Render("enter start the run · q or esc cancel · ↑↓ scroll")}
	} else {
		head = []string{m.st.Fail.Render("✗ NOT READY: the blockers below would stop the run")}
		foot = []string{
			"To start anyway, type why (recorded with the run) and press enter.",
			m.input.View(),
		}
		if m.hint != "" {
			foot = append(foot, m.st.Warn.Render(m.hint))
		}
		foot = append(foot, m.st.Help.Render("esc cancel (nothing is started) · ↑↓ scroll"))
	}
	if m.modeLabel != "" {
		head = append(head, m.st.Bold.Render("mode "+m.modeLabel)+m.st.Dim.Render(" · tab checks another mode"))
	}
	helpKey := " · ? help"
	if !m.ready {
		helpKey = " · f1 help"
	}
	foot[len(foot)-1] += m.st.Help.Render(helpKey)
	if m.showHelp {
		lines := []string{m.st.Bold.Render("Keys") + m.st.Dim.Render(" (any key closes this help)")}
		if m.ready {
			lines = append(lines, "  enter     start the run (the plan above is what runs)")
		} else {
			lines = append(lines, "  type why, then enter   start although not ready (the reason is recorded)")
		}
		lines = append(lines, "  esc       cancel: nothing is started", "  ↑/↓       scroll the plan and the readiness")
		if m.modeLabel != "" {
			lines = append(lines, "  tab       check the plan in another mode (test, planned, disaster, failback)")
		}
		return strings.Join(lines, "\n")
	}
	room := max(1, m.height-len(head)-len(foot)-1)
	// Blockers are long sentences: wrap them rather than cut them.
	var wrapped []string
	for _, l := range m.report {
		if lipgloss.Width(l) <= m.width {
			wrapped = append(wrapped, l)
			continue
		}
		wrapped = append(wrapped, strings.Split(lipgloss.NewStyle().Width(m.width).Render(l), "\n")...)
	}
	body := wrapped[min(m.scroll, len(wrapped)):]
	if len(body) > room {
		body = body[:room]
	}
	for len(body) < room {
		body = append(body, "") // the keys stay at the bottom of the screen
	}
	lines := append(append(append([]string{}, head...), body...), "")
	lines = append(lines, foot...)
	for i, l := range lines {
		if lipgloss.Width(l) > m.width {
			l = ansi.Truncate(l, m.width, "…")
		}
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
