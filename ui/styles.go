package ui

import (
	"os"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Styles are every style the UI uses, all from one renderer, so that
// NO_COLOR, SSH sessions and tests render consistently.
type Styles struct {
	Header, Dim, Bold, Rule               lipgloss.Style
	Pending, Waiting, Running, Done, Fail lipgloss.Style
	Selected, GateBox, Warn, Error, Help  lipgloss.Style
	ClockOK, ClockOver                    lipgloss.Style
}

// NewRenderer returns a renderer for out that honours NO_COLOR.
func NewRenderer(out *os.File) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(out)
	if os.Getenv("NO_COLOR") != "" {
		r.SetColorProfile(termenv.Ascii)
	}
	return r
}

// NewStyles builds the styles from one renderer.
func NewStyles(r *lipgloss.Renderer) Styles {
	c := func(s string) lipgloss.AdaptiveColor { return lipgloss.AdaptiveColor{Light: s, Dark: s} }
	return Styles{
		Header:    r.NewStyle().Bold(true),
		Dim:       r.NewStyle().Foreground(c("245")),
		Bold:      r.NewStyle().Bold(true),
		Rule:      r.NewStyle().Foreground(c("240")),
		Pending:   r.NewStyle().Foreground(c("245")),
		Waiting:   r.NewStyle().Foreground(c("214")).Bold(true),
		Running:   r.NewStyle().Foreground(c("39")).Bold(true),
		Done:      r.NewStyle().Foreground(c("42")),
		Fail:      r.NewStyle().Foreground(c("196")).Bold(true),
		Selected:  r.NewStyle().Reverse(true),
		GateBox:   r.NewStyle().Foreground(c("214")).Bold(true),
		Warn:      r.NewStyle().Foreground(c("214")),
		Error:     r.NewStyle().Foreground(c("196")),
		Help:      r.NewStyle().Foreground(c("245")),
		ClockOK:   r.NewStyle().Foreground(c("42")).Bold(true),
		ClockOver: r.NewStyle().Foreground(c("196")).Bold(true).Reverse(true),
	}
}
