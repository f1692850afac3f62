package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
)

// formKeys is anything that lists its keys for the footer and the help.
type formKeys interface {
	keys(km KeyMap) []key.Binding
}

// form is the child model of an open gate or a failure, one per form (in
// the spirit of gum's confirm and soft-serve's components): it knows its
// keys, takes the key presses the root gives it and says what to send and
// which prompt to open. The root does the sending and owns the mode.
type form interface {
	formKeys
	update(k tea.KeyMsg, km KeyMap) result
	lines(m *RunModel) []string
	// typing reports whether letters are text here (so ? is typed, and
	// help is on f1 only).
	typing() bool
}

// result is what a form asks of the root.
type result struct {
	send []engine.Input
	cmd  tea.Cmd
	// open is a prompt to open over the form: note, quit-confirm,
	// skip-reason, abort-confirm.
	open Mode
}

func sendOne(in engine.Input) result { return result{send: []engine.Input{in}} }

// newForm builds the child model for a gate, as the engine says it asks.
func newForm(g *engine.OpenGate) form {
	var f form
	switch g.FormOf() {
	case engine.FormTyped:
		f = newTypedForm(g.GateOpened)
	case engine.FormChecklist, engine.FormManual:
		f = newChecklistForm(g)
	default:
		f = confirmForm{step: g.Step}
	}
	if g.Approvers > 1 {
		f = twoPersonForm{form: f}
	}
	return f
}

// confirmForm: y proceeds; any other key refuses (the default is no).
type confirmForm struct{ step string }

func (confirmForm) keys(km KeyMap) []key.Binding {
	return []key.Binding{km.Approve, km.OtherRefuses, km.Interrupt}
}

func (f confirmForm) update(k tea.KeyMsg, km KeyMap) result {
	if matches(k, km.Approve) {
		return sendOne(engine.Input{Step: f.step, Kind: engine.InputApprove})
	}
	return sendOne(engine.Input{Step: f.step, Kind: engine.InputRefuse, Text: keyOf(k)})
}

func (confirmForm) typing() bool { return false }

func (f confirmForm) lines(m *RunModel) []string {
	out := m.wrap(safetext.Terminal(m.prog.Gate.Prompt), 2)
	return append(out, m.st.GateBox.Render("⏸ confirm: press y to proceed · any other key refuses"))
}

// typedForm: the operator types the expected word (a site's name).
type typedForm struct {
	step, expect string
	input        *textinput.Model
	hint         *string
}

func newTypedForm(g *engine.GateOpened) typedForm {
	in := textinput.New()
	in.Prompt = "> "
	in.CharLimit = 100
	in.Focus()
	return typedForm{step: g.Step, expect: g.Expect, input: &in, hint: new(string)}
}

func (f typedForm) keys(km KeyMap) []key.Binding {
	word := "type the site name, enter"
	if f.expect != "" {
		word = "type " + safetext.Line(f.expect) + ", enter"
	}
	return []key.Binding{withHelp(km.TypeWord, word, "proceed"), km.Refuse, km.Interrupt}
}

func (f typedForm) update(k tea.KeyMsg, km KeyMap) result {
	switch {
	case matches(k, km.Refuse):
		return sendOne(engine.Input{Step: f.step, Kind: engine.InputRefuse, Text: f.input.Value()})
	case matches(k, km.TypeWord):
		if f.input.Value() != f.expect {
			*f.hint = "that is not " + quote(safetext.Line(f.expect)) + "; type it exactly, or esc to refuse"
			return result{}
		}
		return sendOne(engine.Input{Step: f.step, Kind: engine.InputApprove, Text: f.input.Value()})
	}
	*f.hint = ""
	return result{cmd: typeInto(f.input, k)}
}

// typing: ? is help here unless the word itself holds one.
func (f typedForm) typing() bool { return strings.ContainsRune(f.expect, '?') }

func (f typedForm) lines(m *RunModel) []string {
	out := m.wrap(safetext.Terminal(m.prog.Gate.Prompt), 2)
	out = append(out, m.st.GateBox.Render(fmt.Sprintf("⏸ typed gate: type %s and press enter to proceed · esc refuses", quote(safetext.Line(f.expect)))))
	out = append(out, f.input.View())
	if *f.hint != "" {
		out = append(out, m.st.Warn.Render(*f.hint))
	}
	return out
}

// checklistForm: a manual step, its items ticked one by one, then enter;
// with record, a free-text answer kept in the trail.
type checklistForm struct {
	*checklist
}

type checklist struct {
	step   string
	items  []string
	ticked []bool
	cursor int
	record bool
	input  textinput.Model
	hint   string
}

func newChecklistForm(g *engine.OpenGate) checklistForm {
	c := &checklist{step: g.Step, items: g.Checklist, ticked: make([]bool, len(g.Checklist)), record: g.Record}
	for i := range c.ticked {
		c.ticked[i] = g.Ticked[i]
	}
	if g.Record {
		c.input = textinput.New()
		c.input.Prompt = "> "
		c.input.CharLimit = 2000
		c.input.Placeholder = "what was done or found (kept in the audit trail)"
		c.input.Focus()
	}
	return checklistForm{c}
}

func (f checklistForm) keys(km KeyMap) []key.Binding {
	if f.checklist != nil && f.typing() {
		return []key.Binding{withHelp(km.Done, "type, enter", "step done"), km.Refuse, km.Interrupt}
	}
	var out []key.Binding
	if f.checklist == nil || len(f.items) > 0 {
		out = append(out, withHelp(km.Up, "↑↓", "move"), km.Tick)
	}
	return append(out, km.Done, km.Refuse, km.Note, km.Quit)
}

func (f checklistForm) typing() bool { return f.record && countUnticked(f.ticked) == 0 }

func (f checklistForm) update(k tea.KeyMsg, km KeyMap) result {
	c := f.checklist
	c.hint = ""
	if f.typing() && !matches(k, km.Done) && !matches(k, km.Refuse) {
		return result{cmd: typeInto(&c.input, k)} // every item ticked: keys type the answer
	}
	switch {
	case matches(k, km.Up):
		c.cursor = max(0, c.cursor-1)
	case matches(k, km.Down):
		c.cursor = max(0, min(len(c.ticked)-1, c.cursor+1))
	case matches(k, km.Tick):
		if len(c.ticked) == 0 || c.ticked[c.cursor] {
			return result{}
		}
		// Ticked at once on screen, so a quick enter counts it; the engine
		// records the tick before it reads the enter.
		item := c.cursor
		c.ticked[item] = true
		if c.cursor < len(c.ticked)-1 {
			c.cursor++
		}
		return sendOne(engine.Input{Step: c.step, Kind: engine.InputTick, Item: item})
	case matches(k, km.Done):
		if n := countUnticked(c.ticked); n > 0 {
			c.hint = plural(n, "item is", "items are") + " not ticked yet: tick each with space"
			return result{}
		}
		if c.record && strings.TrimSpace(c.input.Value()) == "" {
			c.hint = "type what was done or found first; it is kept in the audit trail"
			return result{}
		}
		return sendOne(engine.Input{Step: c.step, Kind: engine.InputApprove, Text: c.input.Value()})
	case matches(k, km.Refuse):
		return sendOne(engine.Input{Step: c.step, Kind: engine.InputRefuse})
	case matches(k, km.Note):
		return result{open: ModeNote}
	case matches(k, km.Quit):
		return result{open: ModeQuitConfirm}
	}
	return result{}
}

func (f checklistForm) lines(m *RunModel) []string {
	c := f.checklist
	out := m.wrap(safetext.Terminal(m.prog.Gate.Prompt), 2)
	for i, item := range c.items {
		box := "[ ]"
		if c.ticked[i] {
			box = "[✓]"
		}
		cur := "  "
		if i == c.cursor {
			cur = "› "
		}
		out = append(out, cur+box+" "+safetext.Line(item))
	}
	if c.record {
		out = append(out, c.input.View())
	}
	out = append(out, m.st.GateBox.Render("⏸ manual step: space ticks an item · enter when the step is done · esc refuses"))
	if c.hint != "" {
		out = append(out, m.st.Warn.Render(c.hint))
	}
	return out
}

// tick shows a tick recorded by the engine (from this console or another).
func (f checklistForm) tick(item int) {
	if item >= 0 && item < len(f.ticked) {
		f.ticked[item] = true
	}
}

// twoPersonForm is a gate that needs several approvers: the inner form,
// and who approved so far.
type twoPersonForm struct{ form }

func (f twoPersonForm) lines(m *RunModel) []string {
	out := f.form.lines(m)
	g := m.prog.Gate
	line := fmt.Sprintf("two-person rule: needs %d different approvers", g.Approvers)
	if len(g.Approvals) > 0 {
		names := make([]string, len(g.Approvals))
		for i, a := range g.Approvals {
			names[i] = safetext.Line(a)
		}
		line = fmt.Sprintf("approved by %s (%d of %d); the next one runs: repli approve %d %s",
			strings.Join(names, ", "), len(g.Approvals), g.Approvers, m.runID, safetext.Line(g.Step))
	} else {
		line += "; nobody has approved yet"
	}
	return append(out, m.st.Warn.Render(line))
}

// failureForm: a failed step's question. Unknown keys do nothing: after a
// failure no key should have a consequence the operator did not pick. Skip
// and abort open a prompt (a reason; a confirmation) before anything is sent.
type failureForm struct{ f *engine.FailureOpened }

func (f failureForm) keys(km KeyMap) []key.Binding {
	var out []key.Binding
	for _, c := range f.f.Choices {
		if b, ok := choiceBinding(km, c); ok {
			out = append(out, b)
		}
	}
	return out
}

func choiceBinding(km KeyMap, c engine.Choice) (key.Binding, bool) {
	switch c {
	case engine.ChoiceRetry:
		return km.Retry, true
	case engine.ChoiceMarkDone:
		return km.MarkDone, true
	case engine.ChoiceSkip:
		return km.Skip, true
	case engine.ChoiceAbort:
		return km.Abort, true
	}
	return key.Binding{}, false
}

func (f failureForm) allows(c engine.Choice) bool { return slices.Contains(f.f.Choices, c) }

func (f failureForm) update(k tea.KeyMsg, km KeyMap) result {
	step := f.f.Step
	switch {
	case matches(k, km.Retry) && f.allows(engine.ChoiceRetry):
		return sendOne(engine.Input{Step: step, Kind: engine.InputRetry})
	case matches(k, km.MarkDone) && f.allows(engine.ChoiceMarkDone):
		return sendOne(engine.Input{Step: step, Kind: engine.InputMarkDone})
	case matches(k, km.Skip) && f.allows(engine.ChoiceSkip):
		return result{open: ModeSkipReason}
	case matches(k, km.Abort) && f.allows(engine.ChoiceAbort):
		return result{open: ModeAbortConfirm}
	case matches(k, km.Note):
		return result{open: ModeNote}
	case matches(k, km.Quit):
		return result{open: ModeQuitConfirm}
	}
	return result{}
}

func (failureForm) typing() bool { return false }

func (f failureForm) lines(m *RunModel) []string {
	// The reason first, whole words; the URI and the rest after it.
	out := m.wrap(m.st.Error.Render("✗ "+safetext.Line(reasonFirst(f.f.Error))), 3)
	return append(out, m.st.GateBox.Render("⏸ failed: "+ChoiceKeys(f.f.Choices)))
}

// reasonFirst puts a driver error's reason before the site, URI and domain
// the engine prefixes it with: "site primary (qemu+ssh://…), domain web-01:
// timed out: no answer" reads "timed out: no answer · site primary
// (qemu+ssh://…), domain web-01".
func reasonFirst(s string) string {
	if !strings.HasPrefix(s, "site ") {
		return s
	}
	end := strings.Index(s, ") ")
	if i := strings.Index(s, "), domain "); i >= 0 {
		end = i + len("), domain ")
	} else if i := strings.Index(s, "): "); i >= 0 {
		end = i
	}
	if end < 0 {
		return s
	}
	j := strings.Index(s[end:], ": ")
	if j < 0 {
		return s
	}
	return s[end+j+2:] + " · " + s[:end+j]
}

func countUnticked(ts []bool) int {
	n := 0
	for _, t := range ts {
		if !t {
			n++
		}
	}
	return n
}
