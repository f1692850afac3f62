package ui

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// KeyMap is every key the console knows. It is the one source for both
// matching a key press and writing the footer and the help screen: a key
// cannot be documented one way and handled another.
type KeyMap struct {
	// Moving and scrolling.
	Up, Down, PageUp, PageDown key.Binding
	// Home screen.
	Filter, Open, Back key.Binding
	// Gates.
	Approve, OtherRefuses, TypeWord, Tick, Done, Refuse key.Binding
	// After a failure.
	Retry, MarkDone, Skip, Abort key.Binding
	// Prompts: a reason to type, a yes to give.
	Submit, Cancel, Yes, No key.Binding
	// Any time.
	Note, Help, Quit, Interrupt key.Binding
	// CloseHelp leaves the help screen; Leave quits a run that is over.
	CloseHelp, Leave key.Binding
	// History browser: sort the runs, mark one to compare with another,
	// compare, show or hide the runs on simulated sites.
	Sort, Mark, Compare, Simulated key.Binding
}

// DefaultKeys are the console's keys.
var DefaultKeys = KeyMap{
	Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
	Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
	PageUp:   key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup", "scroll sites")),
	PageDown: key.NewBinding(key.WithKeys("pgdown", "f"), key.WithHelp("pgdn", "scroll sites")),

	Filter: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
	Open:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
	Back:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),

	Approve:      key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "proceed")),
	OtherRefuses: key.NewBinding(key.WithKeys("esc"), key.WithHelp("any other key", "refuses")),
	TypeWord:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("type the word, enter", "proceed")),
	Tick:         key.NewBinding(key.WithKeys(" ", "x"), key.WithHelp("space", "tick")),
	Done:         key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "step done")),
	Refuse:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "refuse")),

	Retry:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "retry")),
	MarkDone: key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mark done")),
	Skip:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip")),
	Abort:    key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "abort")),

	Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "save")),
	Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	Yes:    key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
	No:     key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("any other key", "no")),

	Note:      key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "note")),
	Help:      key.NewBinding(key.WithKeys("?", "f1"), key.WithHelp("?", "help")),
	Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
	Interrupt: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	CloseHelp: key.NewBinding(key.WithKeys("?", "f1", "esc"), key.WithHelp("?/esc", "close help")),
	Leave:     key.NewBinding(key.WithKeys("q", "enter", "esc"), key.WithHelp("q/enter", "quit")),

	Sort:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
	Mark:      key.NewBinding(key.WithKeys("m", " "), key.WithHelp("m", "mark")),
	Compare:   key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "compare")),
	Simulated: key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "simulated runs")),
}

// textHelp is the help key where ? is text being typed: f1 only.
var textHelp = key.NewBinding(key.WithKeys("f1"), key.WithHelp("f1", "help"))

// matches reports whether a key press is one of the binding's keys. Letters
// typed fast (or pasted) arrive as one message whose String is the text
// itself: "down" typed into a reason must stay text, never be the down key.
func matches(k tea.KeyMsg, b key.Binding) bool {
	if k.Type == tea.KeyRunes && len(k.Runes) > 1 {
		return false
	}
	return key.Matches(k, b)
}

// isText reports whether a key press is text to type (letters, a paste).
func isText(k tea.KeyMsg) bool { return k.Type == tea.KeyRunes || k.Type == tea.KeySpace }

// bindings returns the keys of a mode, for its footer and for the help
// screen. Handlers match against the same bindings.
func (km KeyMap) bindings(mode Mode, form formKeys) []key.Binding {
	switch mode {
	case ModeHome:
		return []key.Binding{km.Up, km.Down, km.Open, km.Filter, km.Quit, km.Help}
	case ModeFilter:
		return []key.Binding{withHelp(km.Submit, "enter", "keep filter"), withHelp(km.Cancel, "esc", "clear"), textHelp}
	case ModePreflight:
		return []key.Binding{withHelp(km.Open, "enter", "start"), withHelp(km.Back, "esc", "cancel"), km.Up, km.Down, km.Help}
	case ModeRun:
		return []key.Binding{km.Note, km.PageDown, km.Quit, km.Help}
	case ModeGate:
		return append(form.keys(km), km.Help)
	case ModeFailure:
		return append(form.keys(km), km.Note, km.Quit, km.Help)
	case ModeNote:
		return []key.Binding{withHelp(km.Submit, "enter", "save note"), km.Cancel, textHelp}
	case ModeSkipReason:
		return []key.Binding{withHelp(km.Submit, "enter", "skip, with this reason"), withHelp(km.Cancel, "esc", "back"), textHelp}
	case ModeAbortConfirm:
		return []key.Binding{withHelp(km.Yes, "y", "abort the run"), withHelp(km.No, "any other key", "back"), km.Help}
	case ModeQuitConfirm:
		return []key.Binding{withHelp(km.Yes, "y", "quit"), withHelp(km.No, "any other key", "stay"), km.Help}
	case ModeHelp:
		return []key.Binding{km.CloseHelp, km.Interrupt}
	case ModeWatch:
		return []key.Binding{km.PageDown, km.Quit, km.Help}
	case ModeEnd:
		return []key.Binding{km.Leave, km.PageDown, km.Help}
	}
	return []key.Binding{km.Quit, km.Help}
}

// helpSections are the rows of the help screen: every context and its
// keys, generated from the same bindings as the footers.
func (km KeyMap) helpSections() [][2]string {
	v := func(bs ...key.Binding) string {
		parts := make([]string, 0, len(bs))
		for _, b := range bs {
			if b.Enabled() {
				parts = append(parts, b.Help().Key+" "+b.Help().Desc)
			}
		}
		return strings.Join(parts, " · ")
	}
	return [][2]string{
		{"manual step", v(checklistForm{}.keys(km)...)},
		{"confirm gate", v(confirmForm{}.keys(km)...)},
		{"typed gate", v(typedForm{}.keys(km)...)},
		{"after failure", v(km.Retry, km.MarkDone, km.Skip, km.Abort)},
		{"sites", v(km.PageUp, km.PageDown)},
		{"any time", v(withHelp(km.Note, "n", "note into the audit trail"), withHelp(km.Quit, "q", "quit (the run stays resumable)"), km.Help)},
	}
}

// withHelp is b with other help words: the same keys, said for a context.
func withHelp(b key.Binding, k, desc string) key.Binding {
	b.SetHelp(k, desc)
	return b
}

// footer renders a mode's keys with bubbles/help, cut to the width; the
// help key, last, is never cut.
func footer(h help.Model, width int, bs []key.Binding) string {
	if n := len(bs); n > 1 && (bs[n-1].Help() == DefaultKeys.Help.Help() || bs[n-1].Help() == textHelp.Help()) {
		last := h.ShortHelpView(bs[n-1:])
		h.Width = max(1, width-lipgloss.Width(last)-3)
		return h.ShortHelpView(bs[:n-1]) + h.Styles.ShortSeparator.Render(h.ShortSeparator) + last
	}
	h.Width = width
	return h.ShortHelpView(bs)
}

// newHelp is the help renderer, styled from the console's styles.
func newHelp(st Styles) help.Model {
	h := help.New()
	h.ShortSeparator = " · "
	h.Styles.ShortKey = st.Bold
	h.Styles.ShortDesc = st.Help
	h.Styles.ShortSeparator = st.Help
	h.Styles.Ellipsis = st.Help
	return h
}

// keyOf names a key press. Letters typed fast (or pasted) arrive as one
// message, whose String is the text itself: they are "text", never a key.
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

// KeyHelp is every key of the run screen in plain lines, generated from the
// key map: the words of the help screen, for a command's --help.
func KeyHelp() string {
	var b strings.Builder
	for _, s := range DefaultKeys.helpSections() {
		b.WriteString("  " + s[0] + strings.Repeat(" ", max(1, 14-len([]rune(s[0])))) + s[1] + "\n")
	}
	return b.String()
}
