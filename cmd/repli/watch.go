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
	w := &watcher{rb: rb, started: rep.Started, runID: id, events: make(chan engine.Event, 256), holder: make(chan ui.HolderStatus, 1)}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.follow(wctx, s, id)
	usable, why := ui.Usable(cmd.OutOrStdout())
	if !plain && usable {
		return ui.Run(wctx, w, ui.Config{DB: path, Operator: operator(), ReadOnly: true, Renderer: ui.NewRenderer(os.Stdout), Holder: w.holder})
	}
	out := cmd.OutOrStdout()
	if !plain && isTerminal(out) {
		fmt.Fprintln(out, "repli: "+why)
	}
	var last ui.HolderStatus
	for {
		select {
		case ev, ok := <-w.events:
			if !ok {
				return nil
			}
			if line := ui.EventLine(ev); line != "" {
				fmt.Fprintf(out, "%s %s\n", ev.EventMeta().At.Local().Format("15:04:05"), safetext.Line(line))
			}
		case h := <-w.holder:
			if h.Gone != last.Gone {
				fmt.Fprintf(out, "%s %s\n", time.Now().Local().Format("15:04:05"), safetext.Line(holderLine(h)))
			}
			last = h
		}
	}
}

// holderLine says in one line whether the driving console is there.
func holderLine(h ui.HolderStatus) string {
	if !h.Gone {
		return "driven by " + h.Who
	}
	return fmt.Sprintf("the driving console is gone (%s); last heard of at %s: nobody drives this run", h.Why, h.Since.Local().Format("15:04:05"))
}

// holderStatus reads, read-only, whether a console drives the run.
func holderStatus(ctx context.Context, s *store.Store, id int64, lastEvent time.Time) (ui.HolderStatus, bool) {
	st, held, err := s.LeaseState(ctx, id)
	switch {
	case err != nil:
		return ui.HolderStatus{}, false
	case !held:
		return ui.HolderStatus{Gone: true, Why: "its console quit; the run stopped where it was and can be resumed", Since: lastEvent}, true
	case st.Stale:
		return ui.HolderStatus{Who: st.Holder.String(), Gone: true, Why: st.Why, Since: st.Heartbeat}, true
	}
	return ui.HolderStatus{Who: st.Holder.String(), Since: st.Heartbeat}, true
}

// watcher is a read-only ui.Driver fed by polling the audit trail.
type watcher struct {
	rb      *runbooks.Runbook
	started *engine.RunStarted
	runID   int64
	events  chan engine.Event
	holder  chan ui.HolderStatus
}

// follow sends the run's events in order, polling for new ones, until the
// run ends or ctx is done.
func (w *watcher) follow(ctx context.Context, s *store.Store, id int64) {
	defer close(w.events)
	var seen int64
	var lastAt time.Time
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
			seen, lastAt = ev.EventMeta().Seq, ev.EventMeta().At
			select {
			case w.events <- ev:
			case <-ctx.Done():
				return
			}
			if _, ok := ev.(*engine.RunEnded); ok {
				return
			}
		}
		if h, ok := holderStatus(ctx, s, id, lastAt); ok {
			// The newest status replaces one the screen has not read yet.
			select {
			case <-w.holder:
			default:
			}
			w.holder <- h
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
