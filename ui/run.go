package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/charmbracelet/bubbles/help"
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
	// Simulated marks a run on simulated sites (the demo): the header says
	// so, always.
	Simulated bool
	// Replica says where the trail's replica at the other site stands
	// ("replica ✓ in step", "replica ⚠ behind 12s"); nil when there is none.
	Replica func() string
	// Holder delivers, when watching, whether the console driving the run
	// is still there (optional).
	Holder <-chan HolderStatus
	// Out receives the end-of-run summary once the full-screen UI has
	// closed, so it stays in the terminal's scrollback (optional).
	Out io.Writer
}

// HolderStatus is what a watcher knows of the console driving a run.
type HolderStatus struct {
	// Who is the driving console (operator, host, pid), for people.
	Who string
	// Gone: the console stopped answering (Why says how it was judged);
	// Since is its last heartbeat.
	Gone  bool
	Why   string
	Since time.Time
}

// Run shows the run screen until the operator quits. Quitting during a run
// stops it where it is; it stays resumable from its journal. When the run
// ended, its summary is written to cfg.Out after the screen closes.
func Run(ctx context.Context, d Driver, cfg Config) error {
	m := NewRunModel(d, cfg)
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx))
	_, err := p.Run()
	m.Stop()
	if cfg.Out != nil {
		if s := m.Summary(); s != "" {
			fmt.Fprint(cfg.Out, s)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type (
	eventsMsg  struct{ evs []engine.Event }
	siteMsg    struct{ st engine.SiteStatus }
	sitesMsg   struct{ sts []engine.SiteStatus }
	sitesDone  struct{}
	holderMsg  struct{ h HolderStatus }
	holderDone struct{}
	closedMsg  struct{}
	tickMsg    time.Time
	sentMsg    struct{ err error }
)

// maxBatch bounds how many events one frame takes: enough that a burst
// (a 5,000-domain step) is drawn a few times, not 5,000 times.
const maxBatch = 512

// frame is the shortest time between two messages from the run's events
// or the sites' statuses. Bubble Tea renders the whole screen (View) after
// every message, so without it a stream of events or lifecycle changes
// (one site status per started domain) costs one full frame each; with
// it, whatever arrives during a frame is applied at once and drawn once:
// at most about 30 frames a second, however fast the run goes.
const frame = time.Second / 30

// pacer spaces the messages of the run's feeds by at least one frame. It
// is shared by the feeds of one screen (events, site statuses).
type pacer struct {
	mu    sync.Mutex
	last  time.Time
	now   func() time.Time
	sleep func(time.Duration)
}

func newPacer() *pacer { return &pacer{now: time.Now, sleep: time.Sleep} }

// wait returns once a frame has passed since the last message it let
// through. It is called off the UI goroutine (in a command), after the
// first item of a batch has arrived and before the rest is taken: what
// queues meanwhile joins the batch. A feed that is behind (its last batch
// was full) does not wait: a backlog is drawn as fast as it is applied.
func (p *pacer) wait(behind bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := p.last.Add(frame).Sub(p.now()); d > 0 && !behind {
		p.sleep(d)
	}
	p.last = p.now()
}

// waitEvents reads one event, waits for the frame, then takes whatever
// else is already queued: events are coalesced per frame, consumed in
// order, off the UI goroutine. It is re-issued after each batch; behind
// says the last batch was full (maxBatch), and the next is taken at once.
func waitEvents(ch <-chan engine.Event, pace *pacer, behind bool) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return closedMsg{}
		}
		pace.wait(behind)
		evs := []engine.Event{ev}
		for len(evs) < maxBatch {
			select {
			case ev, ok := <-ch:
				if !ok {
					return eventsMsg{evs} // closedMsg comes with the next read
				}
				evs = append(evs, ev)
			default:
				return eventsMsg{evs}
			}
		}
		return eventsMsg{evs}
	}
}

// waitSite reads one site status, waits for the frame, then takes the
// statuses queued meanwhile, keeping only the newest of each site (each is
// a whole picture of its site); re-issued after each.
func waitSite(ch <-chan engine.SiteStatus, pace *pacer) tea.Cmd {
	return func() tea.Msg {
		st, ok := <-ch
		if !ok {
			return sitesDone{}
		}
		pace.wait(false)
		sts := []engine.SiteStatus{st}
		for {
			select {
			case st, ok := <-ch:
				if !ok {
					return sitesMsg{sts} // sitesDone comes with the next read
				}
				if i := slices.IndexFunc(sts, func(s engine.SiteStatus) bool { return s.Site == st.Site }); i >= 0 {
					sts[i] = st
				} else {
					sts = append(sts, st)
				}
			default:
				return sitesMsg{sts}
			}
		}
	}
}

func waitHolder(ch <-chan HolderStatus) tea.Cmd {
	return func() tea.Msg {
		h, ok := <-ch
		if !ok {
			return holderDone{}
		}
		return holderMsg{h}
	}
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

type logLine struct {
	at   time.Time
	text string
	warn bool
}

// RunModel is the run screen: the run's own state comes from the engine's
// projection; the screen keeps only what is its own (the open prompt, the
// form being filled, scrolling, the log lines).
type RunModel struct {
	d      Driver
	cfg    Config
	st     Styles
	keys   KeyMap
	help   help.Model
	events <-chan engine.Event

	rb    *runbooks.Runbook
	runID int64
	// prog is where the run stands: the engine's projection, from the
	// recorded events on resume, with every event since applied.
	prog  *engine.Progress
	index map[string]int
	focus int
	// form is the child model of the open gate or failure (nil when none);
	// formFor says which gate or failure it was built for.
	form    form
	formFor any
	// overlay is the prompt open over the run (note, help, quit-confirm,
	// skip-reason, abort-confirm), zero when none.
	overlay Mode
	input   textinput.Model
	hint    string

	logs     []logLine
	anchor   string
	sites    *sitesView
	acts     actionIndex
	holder   *HolderStatus
	outbox   chan engine.Input
	sendErrs chan error
	stopOnce chan struct{}
	closed   bool
	errText  string

	width, height int
	now           time.Time
	pace          *pacer
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
	st := NewStyles(cfg.Renderer)
	m := &RunModel{
		d: d, cfg: cfg, st: st, keys: DefaultKeys, help: newHelp(st),
		events: d.Events(), rb: rb, index: map[string]int{},
		width: 80, height: 24, now: cfg.Now(), runID: d.Options().RunID,
		outbox: make(chan engine.Input, 64), sendErrs: make(chan error, 4),
		stopOnce: make(chan struct{}), pace: newPacer(),
	}
	m.prog = engine.NewProgress()
	if r := d.Options().Resume; r != nil {
		m.prog = r.Clone()
	}
	m.sites = newSitesView(rb)
	for i, s := range rb.Steps {
		m.index[s.ID] = i
		if m.prog.Passed(s.ID) && i+1 < len(rb.Steps) {
			m.focus = i + 1 // a resumed run shows where it carries on
		}
	}
	m.focusStep(firstNonEmpty(stepOfGate(m.prog.Gate), stepOfFailure(m.prog.Failure)))
	m.syncForm()
	m.input = textinput.New()
	m.input.CharLimit = 500
	return m
}

// Init starts consuming events and the clock, and the sender that delivers
// inputs to the engine (it ends with Stop).
func (m *RunModel) Init() tea.Cmd {
	go forward(m.d, m.outbox, m.sendErrs, m.stopOnce)
	cmds := []tea.Cmd{waitEvents(m.events, m.pace, false), waitSendErr(m.sendErrs, m.stopOnce)}
	if m.cfg.Sites != nil {
		cmds = append(cmds, waitSite(m.cfg.Sites, m.pace))
	}
	if m.cfg.Holder != nil {
		cmds = append(cmds, waitHolder(m.cfg.Holder))
	}
	if !m.cfg.NoTick {
		cmds = append(cmds, tick())
	}
	return tea.Batch(cmds...)
}

// Stop ends the goroutine the model started. Safe to call more than once.
func (m *RunModel) Stop() {
	select {
	case <-m.stopOnce:
	default:
		close(m.stopOnce)
	}
}

// Mode is what the screen is doing: an open prompt, else what the run's
// state asks for. Keys and the footer both read it.
func (m *RunModel) Mode() Mode {
	base := m.baseMode()
	switch m.overlay {
	case ModeSkipReason, ModeAbortConfirm:
		if base != ModeFailure {
			return base // the failure was answered elsewhere: the prompt is moot
		}
	case ModeNote, ModeQuitConfirm:
		if base == ModeEnd || base == ModeWatch {
			return base
		}
	}
	if m.overlay != 0 {
		return m.overlay
	}
	return base
}

func (m *RunModel) baseMode() Mode {
	switch {
	case m.closed || m.prog.Ended != nil:
		return ModeEnd
	case m.cfg.ReadOnly:
		return ModeWatch
	case m.prog.Failure != nil && m.form != nil:
		return ModeFailure
	case m.prog.Gate != nil && m.form != nil:
		return ModeGate
	}
	return ModeRun
}

// Update is a dispatcher: messages to apply, keys to the mode's handler.
func (m *RunModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tickMsg:
		m.now = time.Time(msg)
		if m.closed && (m.holder == nil || !m.holder.Gone || m.prog.Ended != nil) {
			return m, nil // nothing on screen changes with the clock any more
		}
		return m, tick()
	case eventsMsg:
		for _, ev := range msg.evs {
			m.apply(ev)
		}
		m.syncForm()
		return m, waitEvents(m.events, m.pace, len(msg.evs) == maxBatch)
	case siteMsg:
		m.sites.update(msg.st)
		return m, waitSite(m.cfg.Sites, m.pace)
	case sitesMsg:
		for _, st := range msg.sts {
			m.sites.update(st)
		}
		return m, waitSite(m.cfg.Sites, m.pace)
	case holderMsg:
		m.holder = &msg.h
		return m, waitHolder(m.cfg.Holder)
	case sitesDone, holderDone:
		return m, nil
	case closedMsg:
		m.closed = true
		m.form = nil
		return m, nil
	case sentMsg:
		if msg.err != nil && !errors.Is(msg.err, engine.ErrRunOver) {
			m.errText = msg.err.Error()
		}
		return m, waitSendErr(m.sendErrs, m.stopOnce)
	case tea.KeyMsg:
		m.errText = ""
		return m, m.handleKey(msg)
	}
	return m, nil
}

// handleKey gives a key to the handler of the current mode.
func (m *RunModel) handleKey(k tea.KeyMsg) tea.Cmd {
	mode := m.Mode()
	switch mode {
	case ModeQuitConfirm:
		m.overlay = 0
		switch {
		case matches(k, m.keys.Yes):
			return tea.Quit
		case matches(k, m.keys.Help):
			return m.open(ModeHelp)
		}
		return nil
	case ModeAbortConfirm:
		m.overlay = 0
		if matches(k, m.keys.Help) {
			return m.open(ModeHelp)
		}
		if matches(k, m.keys.Yes) {
			return m.send(engine.Input{Step: m.prog.Failure.Step, Kind: engine.InputAbort})
		}
		return nil
	case ModeNote, ModeSkipReason:
		return m.promptKey(mode, k)
	case ModeHelp:
		if matches(k, m.keys.CloseHelp) {
			m.overlay = 0
		} else if matches(k, m.keys.Interrupt) {
			return m.open(ModeQuitConfirm)
		}
		return nil
	case ModeEnd, ModeWatch:
		return m.viewerKey(mode, k)
	}
	switch {
	case matches(k, m.keys.Interrupt):
		return m.open(ModeQuitConfirm)
	case matches(k, m.keys.Help) && (m.form == nil || !m.form.typing() || k.String() == "f1"):
		return m.open(ModeHelp)
	case matches(k, m.keys.PageDown) && mode == ModeRun:
		m.sites.scroll(+1)
		return nil
	case matches(k, m.keys.PageUp) && mode == ModeRun:
		m.sites.scroll(-1)
		return nil
	}
	if m.form != nil {
		r := m.form.update(k, m.keys)
		cmds := []tea.Cmd{r.cmd}
		for _, in := range r.send {
			cmds = append(cmds, m.send(in))
		}
		if r.open != 0 {
			cmds = append(cmds, m.open(r.open))
		}
		return tea.Batch(cmds...)
	}
	switch {
	case matches(k, m.keys.Note):
		return m.open(ModeNote)
	case matches(k, m.keys.Quit):
		return m.open(ModeQuitConfirm)
	}
	return nil
}

// viewerKey handles a screen that answers nothing: a watched run, an ended one.
func (m *RunModel) viewerKey(mode Mode, k tea.KeyMsg) tea.Cmd {
	switch {
	case matches(k, m.keys.Help):
		return m.open(ModeHelp)
	case matches(k, m.keys.PageDown):
		m.sites.scroll(+1)
	case matches(k, m.keys.PageUp):
		m.sites.scroll(-1)
	case matches(k, m.keys.Interrupt), matches(k, m.keys.Quit):
		return tea.Quit
	case mode == ModeEnd && matches(k, m.keys.Leave):
		return tea.Quit
	}
	return nil
}

// open opens a prompt over the run.
func (m *RunModel) open(mode Mode) tea.Cmd {
	m.overlay, m.hint = mode, ""
	switch mode {
	case ModeNote:
		m.input.Prompt = "note> "
		m.input.Placeholder = "what happened, what you decided"
	case ModeSkipReason:
		m.input.Prompt = "why skip> "
		m.input.Placeholder = "the reason, recorded in the audit trail (required)"
	default:
		return nil
	}
	m.input.SetValue("")
	return m.input.Focus()
}

// promptKey types into the note or the skip reason; enter sends it.
func (m *RunModel) promptKey(mode Mode, k tea.KeyMsg) tea.Cmd {
	switch {
	case matches(k, m.keys.Cancel):
		m.overlay = 0
		m.input.Blur()
		return nil
	case matches(k, textHelp):
		return m.open(ModeHelp)
	case !matches(k, m.keys.Submit):
		m.hint = ""
		return typeInto(&m.input, k)
	}
	text := m.input.Value()
	if mode == ModeSkipReason {
		if len([]rune(trimSpace(text))) < 3 {
			m.hint = "a skip needs a reason (it is recorded): type why, or esc to go back"
			return nil
		}
		m.overlay = 0
		m.input.Blur()
		return m.send(engine.Input{Step: m.prog.Failure.Step, Kind: engine.InputSkip, Text: text})
	}
	m.overlay = 0
	m.input.Blur()
	if trimSpace(text) == "" {
		return nil
	}
	d, op := m.d, m.cfg.Operator
	return func() tea.Msg { return sentMsg{d.Note(context.Background(), op, text)} }
}

// syncForm builds the child model for the open gate or failure when it
// changes, and drops it when none is open.
func (m *RunModel) syncForm() {
	before := m.formFor
	defer func() {
		// A prompt about a failure does not outlive it: a new failure
		// asks afresh.
		if m.formFor != before && (m.overlay == ModeSkipReason || m.overlay == ModeAbortConfirm) {
			m.overlay = 0
		}
	}()
	switch {
	case m.cfg.ReadOnly || m.closed:
		m.form, m.formFor = nil, nil
	case m.prog.Failure != nil:
		if m.formFor != any(m.prog.Failure) {
			m.form, m.formFor = failureForm{m.prog.Failure}, m.prog.Failure
		}
	case m.prog.Gate != nil:
		if m.formFor != any(m.prog.Gate.GateOpened) {
			m.form, m.formFor = newForm(m.prog.Gate), m.prog.Gate.GateOpened
		}
	default:
		m.form, m.formFor = nil, nil
	}
}

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

// forward delivers queued inputs to the engine, in order, until stop.
func forward(d Driver, outbox <-chan engine.Input, errs chan<- error, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case in := <-outbox:
			if err := d.Send(in); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}
	}
}

// waitSendErr reports a failed send (the run is over, or read-only).
func waitSendErr(errs <-chan error, stop <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		select {
		case err := <-errs:
			return sentMsg{err}
		case <-stop:
			return nil
		}
	}
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
