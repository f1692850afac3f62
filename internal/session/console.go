package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/ui"
)

// screen is a run as the console shows it: its driver, the run screen's
// Config, and what to do once the screen has closed (Leave says how the
// run stands: nil once it succeeded, ErrFailed, ErrStopped).
type screen interface {
	Driver() ui.Driver
	Config() ui.Config
	Leave() error
}

// opener starts (or joins) the run the operator chose and returns it to
// show; con is the console with its messages held until the screen closes.
type opener func(ctx context.Context, c ui.Choice, con Console) (screen, error)

// console shows a run in repli's one full-screen program (ui.Console),
// opened directly on it: its preflight when there is something to read,
// then the run, to its end. open starts the run (a detached engine, or
// the engine inside this process) once the preflight is passed. What the
// session says meanwhile on con.Err is said once the screen has closed:
// written under it, it would tear the screen.
func console(ctx context.Context, direct ui.Choice, check func(context.Context, ui.Choice) (ui.Readiness, error), open opener, con Console) error {
	return show(ctx, ui.ConsoleConfig{Check: check, Direct: &direct}, open, con)
}

// FirstScreen is repli without a command: the console on its home screen
// (home), then what the operator picks there, started by open (a detached
// engine, attached) once its preflight is passed, to its end.
func FirstScreen(ctx context.Context, home ui.HomeData, check func(context.Context, ui.Choice) (ui.Readiness, error), open func(context.Context, ui.Choice, Console) (*Attached, error), con Console) error {
	opened := func(ctx context.Context, c ui.Choice, con Console) (screen, error) {
		a, err := open(ctx, c, con)
		if err != nil {
			return nil, err
		}
		return a, nil
	}
	err := show(ctx, ui.ConsoleConfig{Home: home, Check: check}, opened, con)
	if errors.Is(err, errNothingStarted) {
		return nil // the operator left the first screen
	}
	return err
}

// errNothingStarted: the console closed before any run started.
var errNothingStarted = errors.New("cancelled before the run started")

// show runs the console with cfg (a direct start, or the home screen).
func show(ctx context.Context, cfg ui.ConsoleConfig, open opener, con Console) error {
	said := &lockedBuffer{}
	quiet := con
	quiet.Err = said
	defer said.flushTo(con.Err)
	var shown screen
	start := func(ctx context.Context, c ui.Choice) (ui.Driver, ui.Config, error) {
		s, err := open(ctx, c, quiet)
		if err != nil {
			return nil, ui.Config{}, err
		}
		shown = s
		return s.Driver(), s.Config(), nil
	}
	cfg.Renderer, cfg.Out = con.Renderer, con.Out
	err := ui.Console(ctx, cfg, start)
	switch {
	case errors.Is(err, ui.ErrCancelled):
		return usage(err)
	case shown == nil && err != nil:
		var u *UsageError
		if errors.As(err, &u) || errors.Is(err, ErrStopped) || errors.Is(err, ErrFailed) {
			return err
		}
		return usage(err)
	case shown == nil:
		return usage(errNothingStarted)
	}
	return shown.Leave()
}

// lockedBuffer holds what is written to it, from any goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) flushTo(w io.Writer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w != nil {
		w.Write(b.buf.Bytes())
	}
	b.buf.Reset()
}

// Checker is the preflight of a run of rb, as the console's preflight
// screen shows it; done tells the steps a resumed run is past.
func Checker(rb *runbooks.Runbook, done map[string]bool, req Request) func(context.Context, ui.Choice) (ui.Readiness, error) {
	return func(ctx context.Context, c ui.Choice) (ui.Readiness, error) {
		if req.Assess == nil {
			return ui.Readiness{Ready: true, Quiet: true}, nil
		}
		mode, err := rb.RunMode(c.Mode, true)
		if err != nil {
			return ui.Readiness{}, err
		}
		sites, _, err := Connect(ctx, rb, req.URIs, req.Speed, req.Seed, req.Faults)
		if err != nil {
			return ui.Readiness{}, err
		}
		defer closeAll(sites)
		rep := req.Assess(ctx, rb, mode, done, req.URIs, sites)
		return ui.Readiness{Text: rep.Text, Ready: rep.Ready, Quiet: rep.Ready && len(rep.Warnings) == 0}, nil
	}
}

// inProcess is a run whose engine runs inside this console (--foreground),
// shown in the console's program: the session runs in a goroutine of its
// own and hands its engine over when the run starts; it waits for the
// screen to close before it stops the run where it is and returns.
type inProcess struct {
	shown  chan inProcessShown
	closed chan struct{}
	result chan error
	d      ui.Driver
	cfg    ui.Config
}

type inProcessShown struct {
	d   ui.Driver
	cfg ui.Config
}

func (p *inProcess) Driver() ui.Driver { return p.d }
func (p *inProcess) Config() ui.Config { return p.cfg }

// Leave stops the run where it is (resumable) unless it has ended, and
// returns how the session ended.
func (p *inProcess) Leave() error {
	close(p.closed)
	return <-p.result
}

// show is the session's Console.show: it hands the run over and waits for
// the screen to close.
func (p *inProcess) show(d ui.Driver, cfg ui.Config) error {
	p.shown <- inProcessShown{d, cfg}
	<-p.closed
	return nil
}

// openInProcess runs the session (run: Start or Resume again, with the
// console's show hook) in a goroutine and returns once its run is on the
// screen, or why it did not start.
func openInProcess(run func(ctx context.Context, c ui.Choice, con Console) error) opener {
	return func(ctx context.Context, c ui.Choice, con Console) (screen, error) {
		p := &inProcess{shown: make(chan inProcessShown, 1), closed: make(chan struct{}), result: make(chan error, 1)}
		con.show = p.show
		go func() { p.result <- run(ctx, c, con) }()
		select {
		case s := <-p.shown:
			p.d, p.cfg = s.d, s.cfg
			return p, nil
		case err := <-p.result:
			return nil, err
		}
	}
}
