package ui

import (
	"io"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

func newPreflight(ready bool) *PreflightModel {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	m := NewPreflightModel("Readiness of drill\n\n✗ not ready: 1 blocker(s)\n  - site secondary is unreachable: site unreachable: sim://secondary does not answer at all, check the link", ready, r)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	return m
}

func TestPreflightUnreadyNeedsAReason(t *testing.T) {
	m := newPreflight(false)
	if _, cmd := m.Update(tea.KeyMsg{Type: tea.KeyEnter}); cmd != nil {
		t.Fatal("enter without a reason started the run")
	}
	if !strings.Contains(m.View(), "type the reason first") {
		t.Errorf("no hint:\n%s", m.View())
	}
	for _, r := range "link down" {
		m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	m.Update(tea.KeyMsg{Type: tea.KeyEnter})
	if start, reason := m.Decision(); !start || reason != "link down" {
		t.Fatalf("decision %v %q", start, reason)
	}
	if v := m.View(); !strings.Contains(v, "check the link") {
		t.Errorf("the long blocker was cut instead of wrapped:\n%s", v)
	}
}

func TestPreflightCancel(t *testing.T) {
	for _, ready := range []bool{true, false} {
		m := newPreflight(ready)
		m.Update(tea.KeyMsg{Type: tea.KeyEsc})
		if start, _ := m.Decision(); start {
			t.Errorf("ready=%v: esc started the run", ready)
		}
	}
	m := newPreflight(true)
	m.Update(tea.KeyMsg{Type: tea.KeyEnter})
	if start, reason := m.Decision(); !start || reason != "" {
		t.Errorf("ready with warnings: enter gave %v %q", start, reason)
	}
}

// TestTypedWordsAreNotKeys: "down" typed fast arrives as one message; it is
// text for the reason, not the down arrow.
func TestTypedWordsAreNotKeys(t *testing.T) {
	m := newPreflight(false)
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("link ")})
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("down")})
	m.Update(tea.KeyMsg{Type: tea.KeyEnter})
	if _, reason := m.Decision(); reason != "link down" {
		t.Fatalf("reason %q, want %q", reason, "link down")
	}
}
