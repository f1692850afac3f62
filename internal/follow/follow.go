// Package follow follows a run read-only from the audit trail, as repli
// watch shows it: its events in order, and whether a console still drives
// it.
package follow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// HolderLine says in one line whether the driving console is there.
func HolderLine(h ui.HolderStatus) string {
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

// Watcher is a read-only ui.Driver fed by polling the audit trail.
type Watcher struct {
	rb      *runbooks.Runbook
	started *engine.RunStarted
	runID   int64
	events  chan engine.Event
	holder  chan ui.HolderStatus
}

// New is a Watcher of run runID, of runbook rb, started as started.
func New(rb *runbooks.Runbook, started *engine.RunStarted, runID int64) *Watcher {
	return &Watcher{rb: rb, started: started, runID: runID, events: make(chan engine.Event, 256), holder: make(chan ui.HolderStatus, 1)}
}

// Holder is the newest word on whether a console drives the run.
func (w *Watcher) Holder() <-chan ui.HolderStatus { return w.holder }

// Print writes the run's events, and whether its console is there, as
// plain lines until the run ends (Follow stops).
func (w *Watcher) Print(out io.Writer) {
	var last ui.HolderStatus
	for {
		select {
		case ev, ok := <-w.events:
			if !ok {
				return
			}
			if line := ui.EventLine(ev); line != "" {
				fmt.Fprintf(out, "%s %s\n", ev.EventMeta().At.Local().Format("15:04:05"), safetext.Line(line))
			}
		case h := <-w.holder:
			if h.Gone != last.Gone {
				fmt.Fprintf(out, "%s %s\n", time.Now().Local().Format("15:04:05"), safetext.Line(HolderLine(h)))
			}
			last = h
		}
	}
}

// Follow sends the run's events in order, polling for new ones, until the
// run ends or ctx is done.
func (w *Watcher) Follow(ctx context.Context, s *store.Store, id int64) {
	defer close(w.events)
	var seen int64
	var lastAt time.Time
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		evs, err := s.EventsAfter(ctx, id, seen)
		if err != nil {
			return
		}
		for _, ev := range evs {
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

func (w *Watcher) Events() <-chan engine.Event                { return w.events }
func (w *Watcher) Send(engine.Input) error                    { return errReadOnly }
func (w *Watcher) Runbook() *runbooks.Runbook                 { return w.rb }
func (w *Watcher) Note(context.Context, string, string) error { return errReadOnly }
func (w *Watcher) Options() engine.Options {
	return engine.Options{RunID: w.runID, Mode: w.started.Mode, Operator: w.started.Operator}
}
