package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// drive runs the engine with its consumer (the TUI or the plain printer),
// holding the lease, and says how the run ended.
func drive(ctx context.Context, rb *runbooks.Runbook, sites map[string]engine.Hypervisor, db *store.Store, lease *store.Lease, opts engine.Options, con Console, rep *trailReplica) error {
	defer lease.Release(context.WithoutCancel(ctx))
	if rep != nil {
		opts.AfterDecision = rep.afterDecision
	}
	eng, err := engine.New(rb, sites, rep.journal(db), opts)
	if err != nil {
		return usage(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Every goroutine started here ends with ctx: the heartbeat, the
	// approvals, the site monitor.
	go heartbeat(ctx, con, lease, cancel)
	go forwardApprovals(ctx, db, eng, opts.RunID)
	type result struct {
		outcome engine.Outcome
		err     error
	}
	done := make(chan result, 1)
	go func() {
		o, err := eng.Run(ctx)
		done <- result{o, err}
	}()

	switch {
	case con.Headless:
		var srv *server
		if srv, err = serve(ctx, db.Path(), opts.RunID, eng, con, rep, watchSites(ctx, sites)); err != nil {
			cancel()
			<-done
			return usage(err)
		}
		defer srv.close()
		logEvents(ctx, con, eng)
	case con.TUI:
		cfg := ui.Config{DB: db.Path(), Operator: opts.Operator, Renderer: con.Renderer,
			Sites:     engine.Monitor(ctx, sites, 2*time.Second),
			Simulated: Simulated(opts.URIs),
			Replica:   rep.status,
			Out:       con.Out,
			Anchor:    func() string { return Anchor(context.WithoutCancel(ctx), db, opts.RunID) }}
		if con.show != nil {
			err = con.show(eng, cfg)
		} else {
			err = ui.Run(ctx, eng, cfg)
		}
		cancel() // the UI is gone: stop the run where it is, resumable
	default:
		err = printPlain(ctx, con, eng, db, cancel, nil)
	}
	res := <-done
	if res.err == nil && rep != nil {
		// The run's end is at the other site, or a warning says it is not
		// (the run is over: the warning goes to the console, not the trail).
		if warn := rep.wait(context.WithoutCancel(ctx), "the end of the run"); warn != "" {
			fmt.Fprintln(con.Err, "repli: warning: "+safetext.Line(warn))
		}
	}
	switch {
	case errors.Is(res.err, engine.ErrRunEnded):
		return usage(fmt.Errorf("run %d: %w", opts.RunID, res.err))
	case res.err != nil:
		why := res.err.Error()
		if errors.Is(res.err, context.Canceled) {
			why = "this console left it (quit, or the terminal went away)"
		}
		fmt.Fprintf(con.Err, "repli: run %d stopped before its end: %s\n", opts.RunID, safetext.Line(why))
		fmt.Fprintf(con.Err, "repli: everything done so far is in %s; carry on with: repli resume %d%s\n", safetext.Line(db.Path()), opts.RunID, dbHint(db.Path()))
		return ErrStopped
	case err != nil:
		return usage(err)
	case res.outcome != engine.OutcomeSucceeded:
		return ErrFailed
	}
	return nil
}

// heartbeat keeps the run's lease alive, so another console can tell this
// one is still driving. If the lease was taken over, this console stops.
func heartbeat(ctx context.Context, con Console, lease *store.Lease, stop func()) {
	t := time.NewTicker(store.LeaseHeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := lease.Heartbeat(ctx); errors.Is(err, store.ErrLeaseLost) {
				fmt.Fprintf(con.Err, "repli: %s: another console took this run over; stopping here\n", safetext.Line(err.Error()))
				stop()
				return
			}
		}
	}
}

// forwardApprovals hands approvals sent with repli approve to the engine,
// which checks and journals them.
func forwardApprovals(ctx context.Context, db *store.Store, eng *engine.Engine, runID int64) {
	var last int64
	if as, err := db.Approvals(ctx, runID, 0); err == nil && len(as) > 0 {
		last = as[len(as)-1].ID // approvals sent before this console started answered an older question
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		as, err := db.Approvals(ctx, runID, last)
		if err != nil {
			continue
		}
		for _, a := range as {
			last = a.ID
			if eng.Send(engine.Input{Step: a.Step, Kind: engine.InputApprove, Text: a.Typed, Operator: a.Operator}) != nil {
				return
			}
		}
	}
}

// dbHint is the --db flag to repeat in a suggested command, if not default.
func dbHint(path string) string {
	if path == store.DefaultPath() {
		return ""
	}
	return " --db " + path
}

// Anchor is a run's end event and its hash, as repli verify --anchor takes
// it, or "" while the run has not ended.
func Anchor(ctx context.Context, db *store.Store, runID int64) string {
	if runID == 0 {
		return ""
	}
	r, err := db.Run(ctx, runID)
	if err != nil || r.EndEventID == 0 {
		return ""
	}
	return fmt.Sprintf("%d:%s", r.EndEventID, r.EndHash)
}

// Simulated reports whether every site of a run is on the simulated lab:
// such a run is marked simulated on screen and in the evidence.
func Simulated(uris map[string]string) bool {
	for _, u := range uris {
		if _, ok := simSite(u); !ok {
			return false
		}
	}
	return len(uris) > 0
}
