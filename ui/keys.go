package ui

import (
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

// KeyMap is every key the run screen knows. Gate keys are handled by the
// gate itself: confirm takes y only, anything else refuses.
type KeyMap struct {
	Up, Down, Tick, Done, Refuse, Note, Help, Quit key.Binding
}

// DefaultKeys are the run screen's keys.
var DefaultKeys = KeyMap{
	Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
	Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
	Tick:   key.NewBinding(key.WithKeys(" ", "x"), key.WithHelp("space", "tick item")),
	Done:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "step done")),
	Refuse: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "refuse")),
	Note:   key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "note")),
	Help:   key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
	Quit:   key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
}

// keyOf names a key press for the screens' switches. Letters typed fast (or
// pasted) arrive as one message, whose String is the text itself: "down"
// typed into a reason must stay text, never become the down arrow.
func keyOf(k tea.KeyMsg) string {
	if k.Type == tea.KeyRunes && len(k.Runes) > 1 {
		return "text"
	}
	return k.String()
}

// typeInto gives a key press to a text input one rune at a time: the input's
// own bindings match on the message's text too, so a fast-typed "down" would
// otherwise be taken for its next-suggestion key and lost.
func typeInto(in *textinput.Model, k tea.KeyMsg) tea.Cmd {
	if k.Type != tea.KeyRunes || len(k.Runes) <= 1 {
		var cmd tea.Cmd
		*in, cmd = in.Update(k)
		return cmd
	}
	var cmds []tea.Cmd
	for _, r := range k.Runes {
		var cmd tea.Cmd
		*in, cmd = in.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Paste: k.Paste})
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}
