package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

func newWatchCmd() *cobra.Command {
	var db string
	var plain bool
	cmd := &cobra.Command{
		Use:   "watch RUN_ID",
		Short: "Follow a run live, read-only, as its driver sees it",
		Long: `Open a run read-only and follow it live: a second engineer on the same
bastion sees what the driver sees. Nothing can be answered or changed from
here; the audit database is opened read-only.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runIDArg(args[0])
			if err != nil {
				return err
			}
			return watchRun(cmd, dbPath(db), id, plain)
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().BoolVar(&plain, "plain", false, "print plain lines instead of the terminal UI")
	return cmd
}

func watchRun(cmd *cobra.Command, path string, id int64, plain bool) error {
	ctx := cmd.Context()
	s, err := openForReview(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	_, rb, rep, err := replayRun(ctx, s, id)
	if err != nil {
		return err
	}
	w := &watcher{rb: rb, started: rep.Started, runID: id, events: make(chan engine.Event, 256)}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.follow(wctx, s, id)
	if !plain && isTerminal(cmd.OutOrStdout()) {
		return ui.Run(wctx, w, ui.Config{DB: path, Operator: operator(), ReadOnly: true, Renderer: ui.NewRenderer(os.Stdout)})
	}
	out := cmd.OutOrStdout()
	for ev := range w.events {
		if line := ui.EventLine(ev); line != "" {
			fmt.Fprintf(out, "%s %s\n", ev.EventMeta().At.Local().Format("15:04:05"), safetext.Line(line))
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return nil
}

// watcher is a read-only ui.Driver fed by polling the audit trail.
type watcher struct {
	rb      *runbooks.Runbook
	started *engine.RunStarted
	runID   int64
	events  chan engine.Event
}

// follow sends the run's events in order, polling for new ones, until the
// run ends or ctx is done.
func (w *watcher) follow(ctx context.Context, s *store.Store, id int64) {
	defer close(w.events)
	var seen int64
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		evs, err := s.Events(ctx, id)
		if err != nil {
			return
		}
		for _, ev := range evs {
			if ev.EventMeta().Seq <= seen {
				continue
			}
			seen = ev.EventMeta().Seq
			select {
			case w.events <- ev:
			case <-ctx.Done():
				return
			}
			if _, ok := ev.(*engine.RunEnded); ok {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var errReadOnly = errors.New("this console only watches the run; answer from the console that drives it")

func (w *watcher) Events() <-chan engine.Event                { return w.events }
func (w *watcher) Send(engine.Input) error                    { return errReadOnly }
func (w *watcher) Runbook() *runbooks.Runbook                 { return w.rb }
func (w *watcher) Note(context.Context, string, string) error { return errReadOnly }
func (w *watcher) Options() engine.Options {
	return engine.Options{RunID: w.runID, Mode: w.started.Mode, Operator: w.started.Operator}
}
