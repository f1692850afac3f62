package session

import (
	"context"
	"errors"

	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/ui"
)

// console shows a run in repli's one full-screen program (ui.Console),
// opened directly on it: its preflight when there is something to read,
// then the run, driven by a detached engine, to its end. open starts the
// engine and attaches this console to it.
func console(ctx context.Context, direct ui.Choice, check func(context.Context, ui.Choice) (ui.Readiness, error), open func(context.Context, ui.Choice) (*Attached, error), con Console) error {
	var att *Attached
	start := func(ctx context.Context, c ui.Choice) (ui.Driver, ui.Config, error) {
		a, err := open(ctx, c)
		if err != nil {
			return nil, ui.Config{}, err
		}
		att = a
		return a.Driver(), a.Config(), nil
	}
	cfg := ui.ConsoleConfig{Renderer: con.Renderer, Out: con.Out, Check: check, Direct: &direct}
	err := ui.Console(ctx, cfg, start)
	switch {
	case errors.Is(err, ui.ErrCancelled):
		return usage(err)
	case att == nil && err != nil:
		var u *UsageError
		if errors.As(err, &u) {
			return err
		}
		return usage(err)
	case att == nil:
		return usage(errors.New("cancelled before the run started"))
	}
	return att.Leave()
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
