package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/replica"
	"github.com/repli-dr/repli/internal/safetext"
)

// Bounds of the wait for the replica at a gate decision and at the run's
// end: long enough for a slow link to catch up, short once the replica is
// known to be behind, so that a dead other site costs each gate little.
var (
	ReplicaBound       = 30 * time.Second
	ReplicaBoundBehind = 2 * time.Second
)

// replicaRequired: a run on real sites in a mode other than a test
// (planned, disaster, failback) keeps its trail at the other site or says
// why not. Simulated runs and drills (test mode) never need one.
func replicaRequired(mode string, simulated bool) bool {
	return !simulated && mode != "test"
}

// replicaCheck is the replica's part of the preflight: the lines recorded
// with the run, or why it must not start. It starts nothing.
func replicaCheck(req Request, mode string, simulated bool, operator string) ([]string, error) {
	switch {
	case req.Replica != "":
		return []string{"audit trail replicated to " + replica.Redact(req.Replica)}, nil
	case req.NoReplica != "":
		return []string{fmt.Sprintf("no replica of the audit trail at the other site, by %s: %s", operator, req.NoReplica)}, nil
	case replicaRequired(mode, simulated):
		return nil, usage(errors.New("this run's audit trail has no replica at the other site: set REPLI_REPLICA=URL (or replica: in the config file), or start without one with --no-replica \"the reason\" (recorded)"))
	case !simulated:
		return []string{"preflight warning: no replica of the audit trail at the other site (REPLI_REPLICA): if this host is lost, so is the trail"}, nil
	}
	return nil, nil
}

// trailReplica is the trail's sidecar for one run: it waits for the
// replica at every gate decision and at the run's end.
type trailReplica struct {
	sc     *replica.Sidecar
	log    io.Writer
	behind bool
}

// startReplica starts Litestream on the trail when a replica is asked for.
func startReplica(ctx context.Context, dbPath string, req Request, con Console) (*trailReplica, error) {
	log := con.Err
	if req.Replica == "" {
		return nil, nil
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sc, err := replica.Start(sctx, dbPath, req.Replica, replica.EnvOptions())
	if err != nil {
		return nil, usage(fmt.Errorf("start the replica of the audit trail: %w; fix it, or run without one with --no-replica \"the reason\" (recorded)", err))
	}
	fmt.Fprintf(log, "repli: audit trail replicated to %s (Litestream's log: %s)\n", safetext.Line(sc.URL()), safetext.Line(sc.LogPath()))
	if con.TUI {
		log = io.Discard // the terminal UI has the screen; lags that matter are journaled
	}
	return &trailReplica{sc: sc, log: log}, nil
}

// wait waits, bounded, until the replica holds every event so far, and
// says where it stands: "" when in step, else a warning for the trail.
func (r *trailReplica) wait(ctx context.Context, what string) string {
	if r == nil {
		return ""
	}
	bound := ReplicaBound
	if r.behind {
		bound = ReplicaBoundBehind
	}
	// REPLI_REPLICA_WAIT bounds every wait (a slow link, a test).
	if d, err := time.ParseDuration(os.Getenv("REPLI_REPLICA_WAIT")); err == nil && d > 0 && d < bound {
		bound = d
	}
	t0 := time.Now()
	lag, err := r.sc.WaitCaughtUp(ctx, bound)
	took := time.Since(t0)
	if err == nil {
		r.behind = false
		fmt.Fprintf(r.log, "repli: replica lag at %s: in step after %s (txid %d)\n", what, took.Round(time.Millisecond), lag.ReplicaTXID)
		return ""
	}
	r.behind = true
	fmt.Fprintf(r.log, "repli: replica lag at %s: %s after %s\n", what, safetext.Line(lag.String()), took.Round(time.Millisecond))
	return fmt.Sprintf("the audit trail's replica at the other site is behind at %s (%s); waited %s, carrying on: %s", what, lag.String(), took.Round(time.Second), safetext.Line(err.Error()))
}

// afterDecision is the engine's hook: a gate decision is at the other
// site before anything is done on it, or a warning says it is not.
func (r *trailReplica) afterDecision(ctx context.Context, d *engine.GateDecided) string {
	return r.wait(ctx, "the gate of "+d.Step)
}

func (r *trailReplica) close() {
	if r != nil {
		r.sc.Close()
	}
}

// Status is the replica's lag for a status line; "" without one.
func (r *trailReplica) status() string {
	if r == nil {
		return ""
	}
	return r.sc.Last().Short()
}

// journal is the trail as the engine writes it, with the replica told to
// ship at once when the run comes to wait for a person (a gate opens, a
// failure asks for a choice) or ends: a site lost while the run waits
// leaves the other site the question too. It does not wait for the ship.
func (r *trailReplica) journal(j engine.Journal) engine.Journal {
	if r == nil {
		return j
	}
	return &shippingJournal{Journal: j, r: r}
}

type shippingJournal struct {
	engine.Journal
	r *trailReplica
}

func (j *shippingJournal) Append(ctx context.Context, ev engine.Event) error {
	if err := j.Journal.Append(ctx, ev); err != nil {
		return err
	}
	var what string
	switch e := ev.(type) {
	case *engine.GateOpened:
		what = "the gate of " + e.Step + " open"
	case *engine.FailureOpened:
		what = "the failure of " + e.Step + " open"
	default:
		return nil
	}
	go func() {
		t0 := time.Now()
		lag, err := j.r.sc.WaitCaughtUp(context.WithoutCancel(ctx), ReplicaBound)
		if err != nil {
			fmt.Fprintf(j.r.log, "repli: replica lag with %s: %s\n", safetext.Line(what), safetext.Line(lag.String()))
			return
		}
		fmt.Fprintf(j.r.log, "repli: replica lag with %s: in step after %s (txid %d)\n", safetext.Line(what), time.Since(t0).Round(time.Millisecond), lag.ReplicaTXID)
	}()
	return nil
}
