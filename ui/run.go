package ui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

// Driver is what the run screen needs from a run: *engine.Engine.
type Driver interface {
	Events() <-chan engine.Event
	Send(engine.Input) error
	Note(ctx context.Context, operator, text string) error
	Runbook() *runbooks.Runbook
	Options() engine.Options
}

// Config is what the run screen shows besides the run itself.
type Config struct {
	DB       string
	Operator string
	Renderer *lipgloss.Renderer
	// Now is the clock, for tests; time.Now by default.
	Now func() time.Time
	// NoTick stops the once-a-second clock refresh, for golden tests.
	NoTick bool
	// Sites delivers the live status of each site (optional).
	Sites <-chan engine.SiteStatus
	// ReadOnly watches a run driven elsewhere: no key answers anything.
	ReadOnly bool
	// Anchor returns the ended run's anchor (end event id and hash) for the
	// summary; nil shows none.
	Anchor func() string
}

// Run shows the run screen until the operator quits. Quitting during a run
// stops it where it is; it stays resumable from its journal.
func Run(ctx context.Context, d Driver, cfg Config) error {
	m := NewRunModel(d, cfg)
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx))
	_, err := p.Run()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type (
	eventMsg  struct{ ev engine.Event }
	siteMsg   struct{ st engine.SiteStatus }
	sitesDone struct{}
	closedMsg struct{}
	tickMsg   time.Time
	sentMsg   struct{ err error }
)

// waitEvent reads one event; it is re-issued after each, so events are
// consumed in order, off the UI goroutine.
func waitEvent(ch <-chan engine.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return closedMsg{}
		}
		return eventMsg{ev}
	}
}

// waitSite reads one site status; re-issued after each.
func waitSite(ch <-chan engine.SiteStatus) tea.Cmd {
	return func() tea.Msg {
		st, ok := <-ch
		if !ok {
			return sitesDone{}
		}
		return siteMsg{st}
	}
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// gateView is what the screen keeps of an open gate besides the run's
// progress: the cursor, the text being typed, a hint.
type gateView struct {
	step   string
	ticked []bool
	cursor int
	input  textinput.Model
	hint   string
}

type logLine struct {
	at   time.Time
	text string
	warn bool
}

// RunModel is the run screen.
type RunModel struct {
	d      Driver
	cfg    Config
	st     Styles
	keys   KeyMap
	events <-chan engine.Event

	rb    *runbooks.Runbook
	runID int64
	// prog is where the run stands: the engine's projection, from the
	// recorded events on resume, with every event since applied.
	prog     *engine.Progress
	index    map[string]int
	focus    int
	gate     *gateView
	logs     []logLine
	anchor   string
	sites    map[string]engine.SiteStatus
	outbox   chan engine.Input
	sendErrs chan error
	closed   bool
	errText  string

	width, height int
	now           time.Time
	confirmQuit   bool
	noting        bool
	note          textinput.Model
	showHelp      bool
}

// NewRunModel builds the run screen for a run.
func NewRunModel(d Driver, cfg Config) *RunModel {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Renderer == nil {
		cfg.Renderer = lipgloss.DefaultRenderer()
	}
	rb := d.Runbook()
	m := &RunModel{
		d: d, cfg: cfg, st: NewStyles(cfg.Renderer), keys: DefaultKeys,
		events: d.Events(), rb: rb, index: map[string]int{},
		width: 80, height: 24, now: cfg.Now(), runID: d.Options().RunID,
		sites:  map[string]engine.SiteStatus{},
		outbox: make(chan engine.Input, 64), sendErrs: make(chan error, 4),
	}
	m.prog = engine.NewProgress()
	if r := d.Options().Resume; r != nil {
		m.prog = r.Clone()
	}
	for i, s := range rb.Steps {
		m.index[s.ID] = i
		if m.prog.Passed(s.ID) && i+1 < len(rb.Steps) {
			m.focus = i + 1 // a resumed run shows where it carries on
		}
	}
	m.focusStep(firstNonEmpty(stepOfGate(m.prog.Gate), stepOfFailure(m.prog.Failure)))
	m.note = textinput.New()
	m.note.Placeholder = "what happened, what you decided"
	m.note.CharLimit = 500
	m.note.Prompt = "note> "
	return m
}

// Init starts consuming events and the clock.
func (m *RunModel) Init() tea.Cmd {
	go forward(m.d, m.outbox, m.sendErrs)
	cmds := []tea.Cmd{waitEvent(m.events), waitSendErr(m.sendErrs)}
	if m.cfg.Sites != nil {
		cmds = append(cmds, waitSite(m.cfg.Sites))
	}
	if !m.cfg.NoTick {
		cmds = append(cmds, tick())
	}
	return tea.Batch(cmds...)
}

// Update is a dispatcher: events to apply, keys to the part that has focus.
func (m *RunModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tickMsg:
		m.now = time.Time(msg)
		if m.closed {
			return m, nil
		}
		return m, tick()
	case eventMsg:
		m.apply(msg.ev)
		return m, waitEvent(m.events)
	case siteMsg:
		m.sites[msg.st.Site] = msg.st
		return m, waitSite(m.cfg.Sites)
	case sitesDone:
		return m, nil
	case closedMsg:
		m.closed = true
		m.gate = nil
		return m, nil
	case sentMsg:
		if msg.err != nil && !errors.Is(msg.err, engine.ErrRunOver) {
			m.errText = msg.err.Error()
		}
		return m, waitSendErr(m.sendErrs)
	case tea.KeyMsg:
		return m, m.handleKey(msg)
	}
	return m, nil
}

func (m *RunModel) handleKey(k tea.KeyMsg) tea.Cmd {
	m.errText = ""
	switch {
	case m.confirmQuit:
		m.confirmQuit = false
		if keyOf(k) == "y" {
			return tea.Quit
		}
		return nil
	case m.noting:
		return m.noteKey(k)
	case keyOf(k) == "ctrl+c":
		return m.askQuit()
	case m.closed:
		if keyOf(k) == "?" {
			m.showHelp = !m.showHelp
			return nil
		}
		if keyOf(k) == "q" || keyOf(k) == "esc" || keyOf(k) == "enter" {
			return tea.Quit
		}
		return nil
	case m.cfg.ReadOnly:
		if keyOf(k) == "q" {
			return tea.Quit
		}
		return nil
	case m.prog.Failure != nil:
		return m.failureKey(k)
	case m.openGate() != nil:
		return m.gateKey(k)
	}
	switch keyOf(k) {
	case "q":
		return m.askQuit()
	case "n":
		return m.startNote()
	case "?":
		m.showHelp = !m.showHelp
	}
	return nil
}

func (m *RunModel) askQuit() tea.Cmd {
	if m.closed {
		return tea.Quit
	}
	m.confirmQuit = true
	return nil
}

func (m *RunModel) startNote() tea.Cmd {
	m.noting = true
	m.note.SetValue("")
	return m.note.Focus()
}

func (m *RunModel) noteKey(k tea.KeyMsg) tea.Cmd {
	switch keyOf(k) {
	case "esc":
		m.noting = false
		m.note.Blur()
		return nil
	case "enter":
		text := m.note.Value()
		m.noting = false
		m.note.Blur()
		if text == "" {
			return nil
		}
		d, op := m.d, m.cfg.Operator
		return func() tea.Msg { return sentMsg{d.Note(context.Background(), op, text)} }
	}
	return typeInto(&m.note, k)
}

// send delivers an input to the engine off the UI goroutine.
// send queues an input for the engine. Inputs leave in the order keys were
// pressed (a tick, then "done"), through one sender, off the UI goroutine.
func (m *RunModel) send(in engine.Input) tea.Cmd {
	in.Operator = m.cfg.Operator
	select {
	case m.outbox <- in:
	default:
		m.errText = "too many keys pressed at once; press the key again"
	}
	return nil
}

// forward delivers queued inputs to the engine, in order.
func forward(d Driver, outbox <-chan engine.Input, errs chan<- error) {
	for in := range outbox {
		if err := d.Send(in); err != nil {
			select {
			case errs <- err:
			default:
			}
		}
	}
}

// waitSendErr reports a failed send (the run is over, or read-only).
func waitSendErr(errs <-chan error) tea.Cmd {
	return func() tea.Msg { return sentMsg{<-errs} }
}

func (m *RunModel) gateKey(k tea.KeyMsg) tea.Cmd {
	g, ev := m.gate, m.prog.Gate
	step := ev.Step
	switch {
	case ev.Expect != "": // typed gate
		switch keyOf(k) {
		case "esc":
			return m.send(engine.Input{Step: step, Kind: engine.InputRefuse, Text: g.input.Value()})
		case "enter":
			if g.input.Value() != ev.Expect {
				g.hint = "that is not " + quote(ev.Expect) + "; type it exactly, or esc to refuse"
				return nil
			}
			return m.send(engine.Input{Step: step, Kind: engine.InputApprove, Text: g.input.Value()})
		}
		return typeInto(&g.input, k)
	case ev.FormOf() == engine.FormChecklist || ev.FormOf() == engine.FormManual:
		if ev.Record && countUnticked(g.ticked) == 0 && keyOf(k) != "enter" && keyOf(k) != "esc" {
			return typeInto(&g.input, k) // every item ticked: the keys type the answer
		}
		switch keyOf(k) {
		case "up", "k":
			g.cursor = max(0, g.cursor-1)
		case "down", "j":
			g.cursor = min(len(g.ticked)-1, g.cursor+1)
		case " ", "x":
			if len(g.ticked) > 0 && !g.ticked[g.cursor] {
				// Ticked at once on screen, so a quick enter counts it; the
				// engine records the tick before it reads the enter.
				item := g.cursor
				g.ticked[item] = true
				if g.cursor < len(g.ticked)-1 {
					g.cursor++
				}
				return m.send(engine.Input{Step: step, Kind: engine.InputTick, Item: item})
			}
		case "enter":
			if n := countUnticked(g.ticked); n > 0 {
				g.hint = plural(n, "item is", "items are") + " not ticked yet: tick each with space"
				return nil
			}
			if ev.Record && strings.TrimSpace(g.input.Value()) == "" {
				g.hint = "type what was done or found first; it is kept in the audit trail"
				return nil
			}
			return m.send(engine.Input{Step: step, Kind: engine.InputApprove, Text: g.input.Value()})
		case "esc":
			return m.send(engine.Input{Step: step, Kind: engine.InputRefuse})
		case "n":
			return m.startNote()
		case "q":
			return m.askQuit()
		case "?":
			m.showHelp = !m.showHelp
		}
		return nil
	default: // confirm gate: y proceeds, any other key refuses
		if keyOf(k) == "y" {
			return m.send(engine.Input{Step: step, Kind: engine.InputApprove})
		}
		return m.send(engine.Input{Step: step, Kind: engine.InputRefuse, Text: keyOf(k)})
	}
}

// failureKey answers a failed step's question. Unknown keys do nothing:
// after a failure no key should have a consequence the operator did not pick.
func (m *RunModel) failureKey(k tea.KeyMsg) tea.Cmd {
	kinds := map[string]struct {
		kind   engine.InputKind
		choice engine.Choice
	}{
		"r": {engine.InputRetry, engine.ChoiceRetry},
		"m": {engine.InputMarkDone, engine.ChoiceMarkDone},
		"s": {engine.InputSkip, engine.ChoiceSkip},
		"a": {engine.InputAbort, engine.ChoiceAbort},
	}
	f := m.prog.Failure
	if c, ok := kinds[keyOf(k)]; ok && slices.Contains(f.Choices, c.choice) {
		return m.send(engine.Input{Step: f.Step, Kind: c.kind})
	}
	switch keyOf(k) {
	case "n":
		return m.startNote()
	case "q":
		return m.askQuit()
	}
	return nil
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

func (m *RunModel) focusStep(id string) {
	if i, ok := m.index[id]; ok {
		m.focus = i
	}
}

func stepOfGate(g *engine.OpenGate) string {
	if g == nil {
		return ""
	}
	return g.Step
}

func stepOfFailure(f *engine.FailureOpened) string {
	if f == nil {
		return ""
	}
	return f.Step
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
