package ui

import "github.com/charmbracelet/bubbles/key"

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
