package engine

import (
	"context"
	"fmt"
	"sync"
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
	ctx  context.Context
	wake chan struct{} // one signal: settled, or first in line to commit
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
// ordered them after it, and no event is ever appended with a gap.
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
		case <-q.ctx.Done():
		}
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
	if len(e.queue) > 0 {
		e.queue[0].wake <- struct{}{}
		return
	}
	e.committing = false
	e.idle.Broadcast()
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
	for _, q := range batch {
		q.ev.EventMeta().Seq = next
		if err := e.journal.Append(q.ctx, q.ev); err != nil {
			q.err = journalError(q.ctx, err)
			continue
		}
		next++
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
