package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// ErrNoEngine: no detached engine answers for the run.
var ErrNoEngine = errors.New("no detached engine drives this run")

// call sends one request to a run's engine and waits for its answer;
// timeout 0 waits as long as the engine takes (an input waits until the
// engine takes it).
func call(ctx context.Context, sock string, req wireRequest, timeout time.Duration) (wireReply, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return wireReply{}, fmt.Errorf("%w (%v)", ErrNoEngine, err)
	}
	defer c.Close()
	if timeout > 0 {
		c.SetDeadline(time.Now().Add(timeout))
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return wireReply{}, fmt.Errorf("send to the engine: %w", err)
	}
	var rep wireReply
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		return wireReply{}, fmt.Errorf("read the engine's answer: %w", err)
	}
	if rep.Err != "" {
		return rep, errors.New(rep.Err)
	}
	return rep, nil
}

// Ping asks the run's detached engine whether it is there: its pid.
func Ping(ctx context.Context, dbPath string, runID int64) (int, error) {
	rep, err := call(ctx, SocketPath(dbPath, runID), wireRequest{Op: "ping"}, 2*time.Second)
	if err != nil {
		return 0, err
	}
	if rep.RunID != runID {
		return 0, fmt.Errorf("%w: the socket answers for run %d", ErrNoEngine, rep.RunID)
	}
	return rep.PID, nil
}

// remote is the ui.Driver of a console attached to a detached engine:
// events from the trail, inputs to the engine's socket.
type remote struct {
	rb       *runbooks.Runbook
	started  *engine.RunStarted
	runID    int64
	operator string
	sock     string
	token    string // from the engine: this console drives
	events   chan engine.Event
	holder   chan ui.HolderStatus
	// engineLeft is closed when the engine closes this console's hold on the
	// run: it ended, or it died (kill -9, a crash): follow reads the trail
	// at once and tells which.
	engineLeft chan struct{}

	mu   sync.Mutex
	prog *engine.Progress // every event read from the trail so far
	gone string           // why the engine is gone, once it is

	replicaMu     sync.Mutex
	replica       string
	replicaAt     time.Time
	replicaAsking bool
}

func (r *remote) Events() <-chan engine.Event { return r.events }
func (r *remote) Runbook() *runbooks.Runbook  { return r.rb }
func (r *remote) Options() engine.Options {
	return engine.Options{RunID: r.runID, Mode: r.started.Mode, Operator: r.operator, AutoApprove: r.started.AutoApprove, URIs: r.started.Sites}
}

func (r *remote) Send(in engine.Input) error {
	_, err := call(context.Background(), r.sock, wireRequest{Op: "input", Input: in, Token: r.token}, 0)
	return err
}

func (r *remote) Note(ctx context.Context, operator, text string) error {
	_, err := call(ctx, r.sock, wireRequest{Op: "note", Operator: operator, Text: text, Token: r.token}, 30*time.Second)
	return err
}

// Replica is where the trail's replica stands, as the engine last
// measured it ("replica ✓ in step"), or "" without one.
// The screen asks on every frame: the answer is the last one the engine
// gave, refreshed in the background at most every two seconds, so a slow
// socket never holds the screen up.
func (r *remote) Replica() string {
	r.replicaMu.Lock()
	defer r.replicaMu.Unlock()
	if !r.replicaAsking && time.Since(r.replicaAt) > 2*time.Second {
		r.replicaAsking = true
		go func() {
			rep, err := call(context.Background(), r.sock, wireRequest{Op: "ping"}, 2*time.Second)
			r.replicaMu.Lock()
			defer r.replicaMu.Unlock()
			r.replicaAsking, r.replicaAt = false, time.Now()
			if err == nil {
				r.replica = rep.Replica
			}
		}()
	}
	return r.replica
}

// hold asks the engine to let this console drive, and keeps the
// connection that says so open. If another console takes the run over, the
// engine says why on it: lost gets it, and stop is called.
func (r *remote) hold(ctx context.Context, who, takeOver string, stop func()) (chan string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", r.sock)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoEngine, err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	dec := json.NewDecoder(c)
	var rep wireReply
	if err := json.NewEncoder(c).Encode(wireRequest{Op: "hold", Who: who, Operator: r.operator, TakeOver: takeOver}); err != nil {
		c.Close()
		return nil, fmt.Errorf("ask the engine to drive: %w", err)
	}
	if err := dec.Decode(&rep); err != nil {
		c.Close()
		return nil, fmt.Errorf("ask the engine to drive: %w", err)
	}
	if rep.Err != "" {
		c.Close()
		return nil, errors.New(rep.Err)
	}
	c.SetDeadline(time.Time{})
	r.token = rep.Token
	lost := make(chan string, 1)
	go func() {
		defer c.Close()
		var bye wireReply
		err := dec.Decode(&bye)
		switch {
		case err == nil && bye.Err != "":
			lost <- bye.Err
			stop()
		case err != nil && ctx.Err() == nil:
			close(r.engineLeft)
		}
	}()
	context.AfterFunc(ctx, func() { c.Close() })
	return lost, nil
}

// open tells whether a gate or failure read from the trail still waits
// for an answer, as the trail read so far says.
func (r *remote) open(ev engine.Event) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e := ev.(type) {
	case *engine.GateOpened:
		return r.prog.Gate != nil && r.prog.Gate.Step == e.Step && r.prog.Gate.Seq == e.Seq
	case *engine.FailureOpened:
		return r.prog.Failure != nil && r.prog.Failure.Step == e.Step && r.prog.Failure.Seq == e.Seq
	}
	return false
}

// follow sends the run's events in order, as the trail has them, until the
// run ends, its engine is gone, or ctx is done.
func (r *remote) follow(ctx context.Context, db *store.Store) {
	defer close(r.events)
	var seen int64
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		fresh, err := db.EventsAfter(ctx, r.runID, seen)
		if err != nil {
			return
		}
		r.mu.Lock()
		for _, ev := range fresh {
			r.prog.Apply(ev)
		}
		ended := r.prog.Ended != nil
		r.mu.Unlock()
		for _, ev := range fresh {
			seen = ev.EventMeta().Seq
			select {
			case r.events <- ev:
			case <-ctx.Done():
				return
			}
		}
		if ended {
			return
		}
		select {
		case <-r.engineLeft:
			// The engine closed this console's hold. It ended the run (the
			// next read has the end), or it is gone.
			if run, err := db.Run(ctx, r.runID); err == nil && run.Outcome == engine.OutcomeRunning {
				r.goneNow(fmt.Sprintf("its engine stopped before the run's end (it closed this console's connection); carry on with: repli resume %d", r.runID))
				return
			}
		default:
		}
		if h, ok := r.engineStatus(ctx, db); ok {
			select {
			case <-r.holder:
			default:
			}
			r.holder <- h
			if h.Gone {
				r.mu.Lock()
				r.gone = h.Why
				r.mu.Unlock()
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.engineLeft:
		}
	}
}

// goneNow says the engine is gone, and why.
func (r *remote) goneNow(why string) {
	select {
	case <-r.holder:
	default:
	}
	r.holder <- ui.HolderStatus{Gone: true, Why: why, Since: time.Now()}
	r.mu.Lock()
	r.gone = why
	r.mu.Unlock()
}

// engineStatus: the engine is there while its lease is held and fresh.
func (r *remote) engineStatus(ctx context.Context, db *store.Store) (ui.HolderStatus, bool) {
	st, held, err := db.LeaseState(ctx, r.runID)
	switch {
	case err != nil:
		return ui.HolderStatus{}, false
	case !held:
		return ui.HolderStatus{Gone: true, Why: fmt.Sprintf("its engine stopped before the run's end; carry on with: repli resume %d", r.runID), Since: time.Now()}, true
	case st.Stale:
		return ui.HolderStatus{Who: st.Holder.String(), Gone: true, Why: fmt.Sprintf("its engine is gone (%s); carry on with: repli resume %d --take-over \"the reason\"", st.Why, r.runID), Since: st.Heartbeat}, true
	}
	return ui.HolderStatus{Who: st.Holder.String(), Since: st.Heartbeat}, true
}

// Attach opens a console on a run whose engine runs detached: it shows
// where the run stands, from its trail, and drives it from there. Leaving
// the console (quit, end of input, a terminal gone) leaves the run going.
//
// One console drives a run at a time: another is refused, unless it takes
// the run over with a reason (takeOver), which is recorded as a note.
func Attach(ctx context.Context, dbPath string, runID int64, takeOver string, con Console) error {
	return attach(ctx, dbPath, runID, takeOver, con, false)
}

// attach is Attach; spawned: this console just started the engine, and
// shows the run even if it already ended (a short run may).
func attach(ctx context.Context, dbPath string, runID int64, takeOver string, con Console, spawned bool) error {
	if con.TUI {
		// Attached before the screen opens: a run that cannot be attached
		// to is said on the terminal, not in a flash of the screen.
		a, err := open(ctx, dbPath, runID, takeOver, con, spawned)
		if err != nil {
			return err
		}
		opened := func(_ context.Context, _ ui.Choice, quiet Console) (screen, error) {
			a.con = quiet // what leaving says, once the screen has closed
			return a, nil
		}
		return console(ctx, ui.Choice{Kind: ui.ChoiceResume, RunID: runID}, nil, opened, con)
	}
	a, err := open(ctx, dbPath, runID, takeOver, con, spawned)
	if err != nil {
		return err
	}
	actx := context.WithValue(a.ctx, attachedKey{}, true)
	go a.r.sayWhenGone(a.ctx, con)
	if err = printPlain(actx, con, a.r, a.db, a.cancel, a.r.open); err != nil {
		a.cancel()
		a.db.Close()
		return usage(err)
	}
	return a.Leave()
}

// Attached is a console's hold on a run whose engine runs detached: the
// run screen's driver and Config. Whoever shows the screen calls Leave
// when it closes.
type Attached struct {
	ctx    context.Context
	cancel context.CancelFunc
	db     *store.Store
	dbPath string
	con    Console
	r      *remote
	lost   chan string
}

// Driver is the run screen's driver: events from the trail, inputs to the
// engine.
func (a *Attached) Driver() ui.Driver { return a.r }

// Config is the run screen's Config for this run.
func (a *Attached) Config() ui.Config {
	ctx, db, runID := a.ctx, a.db, a.r.runID
	return ui.Config{DB: a.dbPath, Operator: a.con.Operator, Renderer: a.con.Renderer,
		Simulated: Simulated(a.r.started.Sites), Sites: a.r.followSites(ctx), Out: a.con.Out, Holder: a.r.holder, Replica: a.r.Replica,
		Anchor: func() string { return Anchor(context.WithoutCancel(ctx), db, runID) }}
}

// Leave lets the run go on without this console, says where it stands,
// and returns how it stands: nil once it succeeded, ErrFailed, or
// ErrStopped while it goes on.
func (a *Attached) Leave() error {
	a.cancel()
	defer a.db.Close()
	return a.r.left(a.ctx, a.db, a.dbPath, a.con, a.lost)
}

// open attaches this console to the run's engine and follows its trail,
// without showing anything: see Attach.
func open(ctx context.Context, dbPath string, runID int64, takeOver string, con Console, spawned bool) (_ *Attached, err error) {
	db, err := store.OpenReadOnly(ctx, dbPath)
	if err != nil {
		return nil, usage(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		if err != nil {
			cancel()
			db.Close()
		}
	}()
	run, err := db.Run(ctx, runID)
	if err != nil {
		return nil, usage(err)
	}
	if run.Outcome != engine.OutcomeRunning && !spawned {
		return nil, usage(fmt.Errorf("run %d already ended (%s); see it with repli show %d%s", runID, run.Outcome, runID, dbHint(dbPath)))
	}
	pong, err := call(ctx, SocketPath(dbPath, runID), wireRequest{Op: "ping"}, 2*time.Second)
	if err != nil || pong.RunID != runID {
		if run, err = db.Run(ctx, runID); err != nil {
			return nil, usage(err)
		}
		if !spawned || run.Outcome == engine.OutcomeRunning {
			return nil, usage(noEngine(ctx, db, runID, dbPath))
		}
	}
	events, err := db.Events(ctx, runID)
	if err != nil {
		return nil, usage(err)
	}
	rb, prog, err := engine.LoadRun(events)
	if err != nil {
		return nil, usage(fmt.Errorf("run %d: %w", runID, err))
	}
	r := &remote{rb: rb, started: prog.Started, runID: runID, operator: con.Operator, sock: SocketPath(dbPath, runID),
		events: make(chan engine.Event, 256), holder: make(chan ui.HolderStatus, 1), engineLeft: make(chan struct{}), prog: engine.NewProgress()}
	a := &Attached{ctx: ctx, cancel: cancel, db: db, dbPath: dbPath, con: con, r: r}
	if pong.PID != 0 {
		if a.lost, err = r.hold(ctx, store.LocalHolder(con.Operator, con.Name()).String(), takeOver, cancel); err != nil {
			return nil, usage(err)
		}
	}
	go r.follow(ctx, db)
	if pong.PID != 0 && !con.TUI {
		// Not under the full screen: held until it closes, this would
		// follow the run's summary; leaving a run that goes on says where
		// its engine's log is (left).
		fmt.Fprintf(con.Err, "repli: attached to run %d, which runs detached (engine pid %d, its log: %s); leaving this console leaves the run going\n", runID, pong.PID, safetext.Line(LogPath(dbPath, runID)))
	}
	if pong.Replica != "" {
		fmt.Fprintf(con.Err, "repli: the trail's %s\n", safetext.Line(pong.Replica))
	}
	return a, nil
}

// sayWhenGone tells a plain console when the engine is gone.
func (r *remote) sayWhenGone(ctx context.Context, con Console) {
	for {
		select {
		case <-ctx.Done():
			return
		case h := <-r.holder:
			if h.Gone {
				fmt.Fprintf(con.Out, "%s run %d: %s\n", time.Now().Local().Format("15:04:05"), r.runID, safetext.Line(h.Why))
				return
			}
		}
	}
}

// left says how the run stands once this console leaves it.
func (r *remote) left(ctx context.Context, db *store.Store, dbPath string, con Console, lost chan string) error {
	runID := r.runID
	run, rerr := db.Run(context.WithoutCancel(ctx), runID)
	switch {
	case rerr != nil:
		return usage(rerr)
	case run.Outcome == engine.OutcomeSucceeded:
		return nil
	case run.Outcome != engine.OutcomeRunning:
		return ErrFailed
	}
	r.mu.Lock()
	gone := r.gone
	r.mu.Unlock()
	select {
	case why := <-lost:
		fmt.Fprintf(con.Err, "repli: run %d: %s; this console no longer drives it\n", runID, safetext.Line(why))
		return ErrStopped
	default:
	}
	if gone != "" {
		fmt.Fprintf(con.Err, "repli: run %d: %s%s\n", runID, safetext.Line(gone), dbHint(dbPath))
	} else {
		fmt.Fprintf(con.Err, "repli: left run %d; it goes on without this console (its engine's log: %s), and waits at its next gate for a person: repli attach %d%s\n", runID, safetext.Line(LogPath(dbPath, runID)), runID, dbHint(dbPath))
	}
	return ErrStopped
}

// noEngine says why no engine answers for a running run, and what to do.
func noEngine(ctx context.Context, db *store.Store, runID int64, dbPath string) error {
	st, held, err := db.LeaseState(ctx, runID)
	switch {
	case err != nil:
		return err
	case held && !st.Stale && st.Holder.Console == (Console{Headless: true}).Name():
		return fmt.Errorf("run %d is driven by its detached engine (%s), which does not answer on %s: see its log %s; if it is stuck, stop it (kill %d) and carry on with repli resume %d%s", runID, safetext.Line(st.Holder.String()), SocketPath(dbPath, runID), LogPath(dbPath, runID), st.Holder.PID, runID, dbHint(dbPath))
	case held && !st.Stale:
		return fmt.Errorf("run %d is driven by %s, whose engine runs inside its console (not detached): follow it with repli watch %d%s, or approve its gates with repli approve", runID, safetext.Line(st.Holder.String()), runID, dbHint(dbPath))
	case held:
		return fmt.Errorf("run %d: its engine is gone (%s); carry on with: repli resume %d --take-over \"the reason\"%s", runID, safetext.Line(st.Why), runID, dbHint(dbPath))
	}
	return fmt.Errorf("run %d: no engine drives it (it stopped before its end); carry on with: repli resume %d%s", runID, runID, dbHint(dbPath))
}
