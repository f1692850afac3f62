package ui

import (
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// HomeItem is one line of the first screen: an unfinished run to resume,
// or something to start.
type HomeItem struct {
	Label  string
	Detail string
	RunID  int64 // 0: not a run
}

// HomeModel is the first screen: runs that stopped before their end come
// first, so a console that died at 3 a.m. is picked up in one keypress.
type HomeModel struct {
	items  []HomeItem
	cursor int
	chosen *HomeItem
	st     Styles
	width  int
	height int
	db     string
}

// NewHomeModel builds the first screen.
func NewHomeModel(items []HomeItem, db string, r *lipgloss.Renderer) *HomeModel {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	return &HomeModel{items: items, st: NewStyles(r), width: 80, height: 24, db: db}
}

// Chosen is the item picked, or nil when the operator quit.
func (m *HomeModel) Chosen() *HomeItem { return m.chosen }

// Init implements tea.Model.
func (m *HomeModel) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m *HomeModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyMsg:
		switch keyOf(msg) {
		case "up", "k":
			m.cursor = max(0, m.cursor-1)
		case "down", "j":
			m.cursor = min(len(m.items)-1, m.cursor+1)
		case "enter":
			m.chosen = &m.items[m.cursor]
			return m, tea.Quit
		case "q", "esc", "ctrl+c":
			return m, tea.Quit
		}
	}
	return m, nil
}

// View implements tea.Model.
func (m *HomeModel) View() string {
	var b strings.Builder
	b.WriteString(m.st.Header.Render("repli") + " · disaster-recovery console\n")
	b.WriteString(m.st.Rule.Render(strings.Repeat("─", m.width)) + "\n")
	runs := 0
	for _, it := range m.items {
		if it.RunID != 0 {
			runs++
		}
	}
	if runs > 0 {
		b.WriteString(m.st.Warn.Render(fmt.Sprintf("⏸ %d run(s) stopped before their end: pick one to carry on where it stopped", runs)) + "\n\n")
	}
	for i, it := range m.items {
		marker := "  "
		label := it.Label
		if i == m.cursor {
			marker = "› "
			label = m.st.Bold.Render(label)
		}
		b.WriteString(truncate(marker+label, m.width) + "\n")
		if it.Detail != "" {
			b.WriteString(truncate("    "+m.st.Dim.Render(it.Detail), m.width) + "\n")
		}
	}
	b.WriteString("\n" + m.st.Dim.Render("audit trail: "+m.db) + "\n")
	b.WriteString(m.st.Help.Render("↑↓ choose · enter open · q quit"))
	return b.String()
}

func truncate(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}
