package engine

import (
	"context"
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
