package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/repli-dr/repli/runbooks"
)

// ConsoleConfig is what the console needs besides starting a run.
type ConsoleConfig struct {
	Home     HomeData
	Renderer *lipgloss.Renderer
	// Out receives the summary of a run that ended, once the full-screen UI
	// has closed (optional).
	Out io.Writer
	// Check returns the readiness of a choice (its plan for the mode, the
	// sites' live state, the RTO target) as repli check prints it. Nil, or
	// a resume, skips the preflight.
	Check func(ctx context.Context, c Choice) (Readiness, error)
	// Direct opens the console on this choice (repli run FILE, repli
	// resume ID) instead of the home screen: its preflight when there is
	// something to read, then its run. Leaving the preflight leaves repli.
	Direct *Choice
}

// Readiness is what the preflight check found, as the preflight screen
// shows it.
type Readiness struct {
	Text  string
	Ready bool
	// Quiet: ready, and nothing to read (no warning): a direct start goes
	// straight on to the run.
	Quiet bool
}

// ErrCancelled: the operator left the preflight of a direct start; nothing
// was started.
var ErrCancelled = errors.New("cancelled at the preflight check; nothing was started")

// StartFunc starts what the operator chose and returns the run's driver and
// the run screen's Config. It runs off the UI goroutine; an error is shown
// on the home screen.
type StartFunc func(ctx context.Context, c Choice) (Driver, Config, error)

// Console is repli's one program: home → preflight → run → end, in the same
// tea.Program. It returns when the operator quits; a run that ended has its
// summary written to cfg.Out after the screen closes.
func Console(ctx context.Context, cfg ConsoleConfig, start StartFunc) error {
	m := NewConsole(ctx, cfg, start)
	_, err := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx)).Run()
	if err == nil {
		err = m.err
	}
	if m.run != nil {
		m.run.Stop()
		if cfg.Out != nil {
			if s := m.run.Summary(); s != "" {
				fmt.Fprint(cfg.Out, s)
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type (
	chosenMsg  struct{ c Choice }
	checkedMsg struct {
		c   Choice
		r   Readiness
		err error
	}
	decidedMsg struct {
		start  bool
		reason string
	}
	startedMsg struct {
		d   Driver
		cfg Config
		err error
	}
)

// ConsoleModel is the root model: a mode (home, preflight, run) and the
// child that has the screen. The run's own modes are the run model's.
type ConsoleModel struct {
	ctx    context.Context
	cfg    ConsoleConfig
	start  StartFunc
	mode   Mode
	home   *HomeModel
	pre    *PreflightModel
	run    *RunModel
	choice Choice
	width  int
	height int
	busy   string
	// err ends a direct start that could not start.
	err error
}

// NewConsole builds the console on its home screen.
func NewConsole(ctx context.Context, cfg ConsoleConfig, start StartFunc) *ConsoleModel {
	if cfg.Renderer == nil {
		cfg.Renderer = lipgloss.DefaultRenderer()
	}
	m := &ConsoleModel{ctx: ctx, cfg: cfg, start: start, mode: ModeHome, width: 80, height: 24}
	m.home = NewHomeModel(cfg.Home, cfg.Renderer)
	m.home.onChoose = func(c Choice) tea.Cmd { return func() tea.Msg { return chosenMsg{c} } }
	return m
}

// Mode is the console's mode: home, preflight, or the run's own.
func (m *ConsoleModel) Mode() Mode {
	switch {
	case m.mode == ModeRun && m.run != nil:
		return m.run.Mode()
	case m.mode == ModeHome:
		return m.home.Mode()
	}
	return m.mode
}

// Init implements tea.Model: a direct start goes to its choice at once.
func (m *ConsoleModel) Init() tea.Cmd {
	if c := m.cfg.Direct; c != nil {
		return func() tea.Msg { return chosenMsg{*c} }
	}
	return nil
}

// failed shows an error where the operator chose: on the home screen, or,
// for a direct start, after the program ends.
func (m *ConsoleModel) failed(err error) tea.Cmd {
	m.mode, m.pre = ModeHome, nil
	if m.cfg.Direct != nil {
		m.err = err
		return tea.Quit
	}
	m.home.errTxt = err.Error()
	return nil
}

// Update dispatches: the console's own messages move between screens;
// everything else goes to the screen shown.
func (m *ConsoleModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.home.Update(msg)
		if m.pre != nil {
			m.pre.Update(msg)
		}
		if m.run != nil {
			m.run.Update(msg)
		}
		return m, nil
	case chosenMsg:
		m.choice = msg.c
		if msg.c.Kind == ChoiceResume || m.cfg.Check == nil {
			return m, m.startCmd()
		}
		return m, m.checkCmd()
	case checkedMsg:
		m.busy = ""
		if msg.err != nil {
			return m, m.failed(msg.err)
		}
		if m.cfg.Direct != nil && msg.r.Ready && msg.r.Quiet && m.mode != ModePreflight {
			return m, m.startCmd()
		}
		m.pre = NewPreflightModel(msg.r.Text, msg.r.Ready, m.cfg.Renderer)
		m.pre.modeLabel = msg.c.Mode
		m.pre.onDone = func(start bool, reason string) tea.Cmd {
			return func() tea.Msg { return decidedMsg{start, reason} }
		}
		m.pre.Update(tea.WindowSizeMsg{Width: m.width, Height: m.height})
		m.mode = ModePreflight
		return m, nil
	case decidedMsg:
		if !msg.start {
			if m.cfg.Direct != nil {
				return m, m.failed(ErrCancelled)
			}
			m.mode, m.pre = ModeHome, nil
			return m, nil
		}
		m.choice.Override = msg.reason
		return m, m.startCmd()
	case startedMsg:
		m.busy = ""
		if msg.err != nil {
			return m, m.failed(msg.err)
		}
		if msg.cfg.Renderer == nil {
			msg.cfg.Renderer = m.cfg.Renderer
		}
		m.run = NewRunModel(msg.d, msg.cfg)
		m.run.Update(tea.WindowSizeMsg{Width: m.width, Height: m.height})
		m.mode, m.pre = ModeRun, nil
		return m, m.run.Init()
	case tea.KeyMsg:
		if m.mode == ModePreflight && msg.Type == tea.KeyTab && m.choice.Kind != ChoiceResume {
			m.choice.Mode = nextMode(m.choice.Mode)
			return m, m.checkCmd()
		}
	}
	switch m.mode {
	case ModePreflight:
		_, cmd := m.pre.Update(msg)
		return m, cmd
	case ModeRun:
		_, cmd := m.run.Update(msg)
		return m, cmd
	}
	_, cmd := m.home.Update(msg)
	return m, cmd
}

func (m *ConsoleModel) checkCmd() tea.Cmd {
	c, ctx, check := m.choice, m.ctx, m.cfg.Check
	if c.Mode == "" {
		c.Mode = "test"
		m.choice.Mode = c.Mode
	}
	m.busy = "checking the sites for " + c.Mode + " mode…"
	return func() tea.Msg {
		r, err := check(ctx, c)
		return checkedMsg{c: c, r: r, err: err}
	}
}

func (m *ConsoleModel) startCmd() tea.Cmd {
	c, ctx, start := m.choice, m.ctx, m.start
	m.busy = "starting…"
	return func() tea.Msg {
		d, cfg, err := start(ctx, c)
		return startedMsg{d: d, cfg: cfg, err: err}
	}
}

// nextMode is the run mode after this one, for tab on the preflight.
func nextMode(cur string) string {
	i := slices.Index(runbooks.Modes, cur)
	return runbooks.Modes[(i+1)%len(runbooks.Modes)]
}

// View implements tea.Model.
func (m *ConsoleModel) View() string {
	switch {
	case m.mode == ModeRun && m.run != nil:
		return m.run.View()
	case m.mode == ModePreflight && m.pre != nil:
		return m.pre.View()
	}
	m.home.status = m.busy
	return m.home.View()
}
