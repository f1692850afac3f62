package engine

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Committer makes events durable in groups: the events enqueued while a
// commit is under way are committed together by the next one (one
// transaction, one fsync, with a BatchJournal), in the order they were
// enqueued. A caller's Wait returns only once its event is durable, so
// write-ahead holds as with Append: nothing is acted on before its intent
// is in the trail. With actions launched in parallel, their intents (and
// then their outcomes) share commits instead of queueing one fsync each.
//
// The order of the queue is the order of the sequence numbers: callers
// number an event and Enqueue it under the one lock that orders events
// (the engine's mutex), then release that lock and Wait. Durable is called
// for each event once it is durable, in order, from the Committer's own
// goroutine: the place to apply it to the run's state and pass it on.
//
// Once a commit fails, every event after it fails too: they follow, in
// their run's sequence, an event the trail does not have.
type Committer struct {
	j       Journal
	durable func(Event)
	ctx     context.Context

	mu     sync.Mutex
	queue  []*Pending
	failed error
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

// Pending is an event enqueued, not yet known durable.
type Pending struct {
	ev   Event
	done chan error
}

// NewCommitter starts the goroutine that commits; Close ends it. Commits
// run under ctx with its cancellation removed: an outcome is still written
// when the run is being interrupted (it is what tells a resume that the
// action is not in doubt); each Wait gives up on its own context.
func NewCommitter(ctx context.Context, j Journal, durable func(Event)) *Committer {
	c := &Committer{j: j, durable: durable, ctx: context.WithoutCancel(ctx), wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.loop()
	return c
}

// Enqueue puts ev in line for the next commit. It does not block.
func (c *Committer) Enqueue(ev Event) *Pending {
	p := &Pending{ev: ev, done: make(chan error, 1)}
	c.mu.Lock()
	switch {
	case c.closed:
		p.done <- ErrRunOver
	case c.failed != nil:
		p.done <- c.failed
	default:
		c.queue = append(c.queue, p)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return p
}

// Wait returns nil once the event is durable, the journal's error if it
// could not be written, or ctx's error if ctx ends first (the event may
// still become durable: an intent so written has no outcome, and is in
// doubt on resume, as after a crash).
func (p *Pending) Wait(ctx context.Context) error {
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Committer) loop() {
	defer close(c.done)
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		closed := c.closed
		c.mu.Unlock()
		if len(batch) == 0 {
			if closed {
				return
			}
			<-c.wake
			continue
		}
		ok, err := c.commit(batch)
		for _, p := range batch[:ok] {
			if c.durable != nil {
				c.durable(p.ev)
			}
			p.done <- nil
		}
		if err != nil {
			c.mu.Lock()
			c.failed = err
			rest := c.queue
			c.queue = nil
			c.mu.Unlock()
			for _, p := range append(batch[ok:], rest...) {
				p.done <- err
			}
		}
	}
}

// commit writes a batch: all of it in one commit with a BatchJournal, else
// one Append each up to the first that fails. It returns how many are
// durable.
func (c *Committer) commit(batch []*Pending) (int, error) {
	if bj, ok := c.j.(BatchJournal); ok && len(batch) > 1 {
		evs := make([]Event, len(batch))
		for i, p := range batch {
			evs[i] = p.ev
		}
		if err := bj.AppendBatch(c.ctx, evs); err != nil {
			return 0, err
		}
		return len(batch), nil
	}
	for i, p := range batch {
		if err := c.j.Append(c.ctx, p.ev); err != nil {
			return i, err
		}
	}
	return len(batch), nil
}

// Close commits what is enqueued, then stops the goroutine. Events
// enqueued after Close fail with ErrRunOver.
func (c *Committer) Close() {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if !already {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	<-c.done
}

// pendingEvent is an event emit has numbered and queued, not yet settled.
type pendingEvent struct {
	ev   Event
	ctx  context.Context // the commit's
	pub  context.Context // publication's
	wake chan struct{}   // one signal: settled, or first in line to commit
	// later: queued by emitLater; no emitter waits for it, and nothing is
	// appended after it until it is durable.
	later bool
	// Set by the committer under the engine's mutex.
	settled bool
	err     error
}

// commitQueued is the engine's group commit. It is called with e.mu held
// and e.committing set, by the emitter first in line; it commits every
// event queued (its own first), applies to the run's progress and
// publishes the durable ones in seq order, wakes their emitters, and hands
// the commit on to the first of those queued meanwhile.
//
// With no other emitter waiting this is one Append under the caller's
// context, as a journal without group commit does. When parallel actions
// emit at once, their events, queued while a commit is under way, share
// the next commit (BatchJournal.AppendBatch: one transaction, one fsync).
// Each emitter still returns only once its own event is durable, so
// write-ahead holds: nothing acts before its intent is in the trail.
//
// A batch the trail refuses (busy, locked) is tried again one event at a
// time, each under its own context: every event then meets the trail as
// it would have alone, and one that fails keeps failing alone (an intent
// stops the run; an outcome is tried again by emitOutcome). The events
// after a failed one are numbered again to follow the last durable event,
// as the next event after a failed Append always was: they were emitted
// while the failed one was still being written, so no emitter could have
// ordered them after it, and no event is ever appended with a gap. The
// exception is an outcome queued by emitLater, whose action has already
// moved on: it is tried again here, for the outcome budget, with nothing
// after it written meanwhile; if it is still refused, it and everything
// after it fail, and so does every emit from then on (e.broken).
func (e *Engine) commitQueued() {
	batch := e.queue
	e.queue = nil
	e.mu.Unlock()
	next := e.commitBatch(batch)
	e.mu.Lock()
	for _, q := range batch {
		if q.err != nil {
			continue
		}
		e.prog.Apply(q.ev)
		select {
		case e.events <- q.ev:
		case <-q.pub.Done():
		}
	}
	for _, q := range batch {
		if q.later && q.err != nil && e.broken == nil {
			e.broken = q.err
		}
	}
	if e.broken != nil {
		// An outcome is missing: nothing queued after it may be written.
		for _, q := range e.queue {
			q.err = e.broken
		}
		batch = append(batch, e.queue...)
		e.queue = nil
	}
	e.seq = next - 1
	e.ending = e.prog.Ended != nil
	for _, q := range e.queue {
		e.seq++
		q.ev.EventMeta().Seq = e.seq
		if _, ok := q.ev.(*RunEnded); ok {
			e.ending = true
		}
	}
	for _, q := range batch {
		q.settled = true
		q.wake <- struct{}{}
	}
	for _, q := range e.queue {
		if !q.later {
			q.wake <- struct{}{} // first in line: it commits next
			return
		}
	}
	e.committing = false
	e.idle.Broadcast()
	if len(e.queue) > 0 {
		e.linger()
	}
}

// refused is why no event may be numbered now, if any (e.mu held).
func (e *Engine) refused() error {
	switch {
	case e.broken != nil:
		return e.broken
	case e.closed || e.ending || e.prog.Ended != nil:
		return ErrRunOver
	}
	return nil
}

// enqueue numbers ev and queues it for the next commit (e.mu held).
func (e *Engine) enqueue(ctx, pub context.Context, ev Event) *pendingEvent {
	m := ev.EventMeta()
	m.RunID = e.opts.RunID
	e.seq++
	m.Seq = e.seq
	m.At = time.Now().UTC()
	if _, ok := ev.(*RunEnded); ok {
		e.ending = true // nothing is numbered after the end
	}
	p := &pendingEvent{ev: ev, ctx: ctx, pub: pub, wake: make(chan struct{}, 1)}
	e.queue = append(e.queue, p)
	return p
}

// lingerFor is how long an outcome queued by emitLater waits for an event
// to share its commit with before it is committed alone (Engine.linger).
const lingerFor = 2 * time.Millisecond

// emitLater queues an action's outcome and returns without waiting for it
// to be durable: the next event emitted shares its commit (in a step that
// acts on one domain at a time, the next action's intent), and in any case
// it is committed within lingerFor, or by finish. Write-ahead and order
// hold: an event is durable only with every event before it, so the next
// intent waits for this outcome too. If the trail does not take it within
// the outcome budget (as emitOutcome), nothing after it is written and the
// run stops, resumable: the next emit returns the error. Until it is
// durable the action is, for a crash, in doubt, as between an action and
// its outcome; so emitLater is only for actions that a resume reconciles
// against the domain's live state.
func (e *Engine) emitLater(ctx context.Context, out *ActionOutcome) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.refused(); err != nil {
		return err
	}
	p := e.enqueue(context.WithoutCancel(ctx), ctx, out)
	p.later = true
	if !e.committing {
		e.linger()
	}
	return nil
}

// linger arranges a commit of what is queued in lingerFor (e.mu held).
func (e *Engine) linger() {
	if e.lingering {
		return
	}
	e.lingering = true
	time.AfterFunc(e.lingerFor, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.lingering = false
		if !e.committing && len(e.queue) > 0 {
			e.committing = true
			e.commitQueued()
		}
	})
}

// commitBatch makes the batch durable, in one commit when it can, and
// records each failed event's error. It returns the seq that follows the
// last durable event.
func (e *Engine) commitBatch(batch []*pendingEvent) int64 {
	first := batch[0].ev.EventMeta().Seq
	if bj, ok := e.journal.(BatchJournal); ok && len(batch) > 1 {
		evs := make([]Event, len(batch))
		for i, q := range batch {
			evs[i] = q.ev
		}
		ctx, cancel := anyAlive(batch)
		err := bj.AppendBatch(ctx, evs)
		cancel()
		if err == nil {
			return first + int64(len(batch))
		}
	}
	next := first
	var lost error // an outcome from emitLater the trail did not take
	for _, q := range batch {
		if lost != nil {
			q.err = lost
			continue
		}
		q.ev.EventMeta().Seq = next
		if q.later {
			q.err = e.appendOutcome(q.ctx, q.ev.(*ActionOutcome))
			lost = q.err
		} else if err := e.journal.Append(q.ctx, q.ev); err != nil {
			q.err = journalError(q.ctx, err)
		}
		if q.err == nil {
			next++
		}
	}
	return next
}

// anyAlive is a context that ends once every event's own context has
// ended: a shared commit is given up only when no emitter still wants it.
func anyAlive(batch []*pendingEvent) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	go func() {
		for _, q := range batch {
			select {
			case <-q.ctx.Done():
			case <-ctx.Done():
				return
			}
		}
		cancel()
	}()
	return ctx, cancel
}

// journalError is what emit returns for an event the trail did not take.
func journalError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err() // interrupted, not a broken trail
	}
	return fmt.Errorf("%w: audit trail cannot be written (%v); nothing further was done", errStopped, err)
}
