package store

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

var _ engine.BatchJournal = (*Store)(nil)

// numbered sets run, seq (from after+1) and time on evs.
func numbered(runID, after int64, evs []engine.Event) []engine.Event {
	for i, ev := range evs {
		m := ev.EventMeta()
		m.RunID, m.Seq, m.At = runID, after+int64(i)+1, base.Add(time.Duration(after+int64(i))*time.Second)
	}
	return evs
}

func intents(step string, n int) []engine.Event {
	var evs []engine.Event
	for i := range n {
		evs = append(evs, &engine.ActionIntent{Action: int64(i + 1), Step: step, Site: "primary", Domain: "vm-" + string(rune('a'+i)), Verb: "shutdown"})
	}
	return evs
}

func TestAppendBatchWritesAllInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTemp(t)
	a, b := createRun(t, s, "erp"), createRun(t, s, "crm")
	appendAll(t, s, a, 0, failoverEvents("")[:1])
	appendAll(t, s, b, 0, failoverEvents("")[:1])
	// Two runs interleaved in one batch, and a run that ends (sealed in the
	// same transaction).
	batch := append(numbered(a, 1, intents("stop", 3)), numbered(b, 1, intents("stop", 2))...)
	end := &engine.RunEnded{Outcome: engine.OutcomeSucceeded, Duration: time.Minute}
	batch = append(batch, numbered(a, 4, []engine.Event{end})...)
	if err := s.AppendBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	v, err := s.Verify(ctx, a)
	if err != nil || !v.OK || v.Events != 2+6 || v.RunCount != 5 {
		t.Fatalf("Verify = %+v, %v; want 8 events, 5 of run %d, intact", v, err, a)
	}
	r, err := s.Run(ctx, a)
	if err != nil || r.Outcome != engine.OutcomeSucceeded {
		t.Fatalf("run %d after its run.ended in a batch: %+v, %v", a, r, err)
	}
	evs, err := s.Events(ctx, b)
	if err != nil || len(evs) != 3 || evs[2].(*engine.ActionIntent).Domain != "vm-b" {
		t.Fatalf("run %d events = %v, %v", b, evs, err)
	}
	// The chain goes on from the batch.
	appendAll(t, s, b, 3, intents("start", 1))
	if v, err := s.Verify(ctx, 0); err != nil || !v.OK || v.Events != 9 {
		t.Fatalf("after a batch and an append: %+v, %v", v, err)
	}
}

func TestAppendBatchIsAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTemp(t)
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents("")[:1])
	batch := numbered(id, 1, intents("stop", 4))
	batch[2].EventMeta().Seq = 9 // a gap: refused
	err := s.AppendBatch(ctx, batch)
	if err == nil || !strings.Contains(err.Error(), "none written") || !strings.Contains(err.Error(), "#9") {
		t.Fatalf("AppendBatch with a gap = %v; want it refused, naming #9", err)
	}
	checkNotWritten(t, s, 1)
	// The same batch, fixed, goes in whole.
	batch[2].EventMeta().Seq = 4
	if err := s.AppendBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	checkNotWritten(t, s, 5)
}

func TestAppendBatchRefusesAnotherConsolesRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTemp(t)
	id := createRun(t, s, "erp")
	if _, err := s.AcquireLease(ctx, id, Holder{Operator: "alice"}); err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, id, 0, failoverEvents("")[:1])
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	err = other.AppendBatch(ctx, numbered(id, 1, intents("stop", 2)))
	if err == nil || !strings.Contains(err.Error(), "none written") {
		t.Fatalf("AppendBatch on a run leased by another console = %v; want refused", err)
	}
	checkNotWritten(t, s, 1)
	// The store that holds the lease appends after the other one's
	// attempt: its view of the chain is read inside each transaction.
	if err := s.AppendBatch(ctx, numbered(id, 1, intents("stop", 2))); err != nil {
		t.Fatal(err)
	}
	checkNotWritten(t, s, 3)
}

// TestAppendBatchTwoWriters interleaves batches of two stores (two
// consoles, two runs) on one file: the chain stays whole, because each
// transaction reads the head under the write lock.
func TestAppendBatchTwoWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTemp(t)
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	a, b := createRun(t, s, "erp"), createRun(t, other, "crm")
	appendAll(t, s, a, 0, failoverEvents("")[:1])
	appendAll(t, other, b, 0, failoverEvents("")[:1])
	done := make(chan error, 2)
	for _, w := range []struct {
		s  *Store
		id int64
	}{{s, a}, {other, b}} {
		go func() {
			var err error
			for i := range 20 {
				if err = w.s.AppendBatch(ctx, numbered(w.id, 1+int64(i)*3, intents("stop", 3))); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if v, err := s.Verify(ctx, a); err != nil || !v.OK || v.Events != 2+120 || v.RunCount != 61 {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
}

func TestAppendBatchSigns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOperators(t)
	s, _ := openTemp(t)
	s.SetSigner("alice", o.signer(t, "alice"), nil)
	id := createRun(t, s, "erp")
	evs := failoverEvents(engine.OutcomeSucceeded)
	appendAll(t, s, id, 0, evs[:2])
	// gate.decided and run.ended in one batch: each is followed by its
	// signature, and the chain goes through both.
	if err := s.AppendBatch(ctx, numbered(id, 2, evs[2:])); err != nil {
		t.Fatal(err)
	}
	sigs, err := s.Signatures(ctx, id)
	if err != nil || len(sigs) != 2 || sigs[0].SignedKind != "gate.decided" || sigs[1].SignedKind != "run.ended" || sigs[0].Signature == "" {
		t.Fatalf("Signatures = %+v, %v", sigs, err)
	}
	if v, err := s.Verify(ctx, id); err != nil || !v.OK || v.Events != int64(len(evs))+2 {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
}

// TestCommitterOnTheStore: 16 goroutines emit as the engine's parallel
// actions do, through engine.Committer: events share commits, and the
// trail holds them all, in sequence, chained.
func TestCommitterOnTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTemp(t)
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents("")[:1])
	var mu sync.Mutex
	seq := int64(1)
	var durable []int64
	c := engine.NewCommitter(ctx, s, func(ev engine.Event) { durable = append(durable, ev.EventMeta().Seq) })
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				mu.Lock()
				seq++
				ev := &engine.ActionIntent{Action: int64(w*10 + i), Step: "start", Site: "secondary", Domain: "vm", Verb: "start"}
				ev.RunID, ev.Seq, ev.At = id, seq, base
				p := c.Enqueue(ev)
				mu.Unlock()
				if err := p.Wait(ctx); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	c.Close()
	if v, err := s.Verify(ctx, id); err != nil || !v.OK || v.RunCount != 161 {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
	for i, s := range durable {
		if s != int64(i+2) {
			t.Fatalf("durable order %v", durable)
		}
	}
}

// TestSeqCacheSeesAnotherWriter: a store remembers each run's last
// sequence number between appends, but only while nobody else has written:
// another console's event moves the head of the chain, and the number is
// read again.
func TestSeqCacheSeesAnotherWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, path := openTemp(t)
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	id := createRun(t, a, "erp")
	appendAll(t, a, id, 0, failoverEvents("")[:2]) // a knows #2 is the last
	appendAll(t, b, id, 2, intents("stop", 1))     // b writes #3
	// a, with #2 in its cache, tries #3 again: refused as a duplicate.
	err = a.Append(ctx, numbered(id, 2, intents("stop", 1))[0])
	if err == nil || !strings.Contains(err.Error(), "already has event #3") {
		t.Fatalf("a's second #3 = %v; want refused as written by another console", err)
	}
	// And #4 follows.
	if err := a.Append(ctx, numbered(id, 3, intents("stop", 1))[0]); err != nil {
		t.Fatal(err)
	}
	// Another run's event written by b moves the head too: a's #5 still
	// checks against the store, and a gap is still refused.
	other := createRun(t, b, "crm")
	appendAll(t, b, other, 0, failoverEvents("")[:1])
	if err := a.Append(ctx, numbered(id, 5, intents("stop", 1))[0]); err == nil || !strings.Contains(err.Error(), "does not follow") {
		t.Fatalf("a's #6 after #4 = %v; want a gap refused", err)
	}
	checkNotWritten(t, a, 5)
}

// TestEventsAfter: a follower reads only what it has not read yet, in
// order, and nothing of another run.
func TestEventsAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTemp(t)
	a, b := createRun(t, s, "erp"), createRun(t, s, "crm")
	appendAll(t, s, a, 0, failoverEvents("")[:1])
	appendAll(t, s, b, 0, failoverEvents("")[:1])
	if err := s.AppendBatch(ctx, append(numbered(a, 1, intents("stop", 3)), numbered(b, 1, intents("stop", 2))...)); err != nil {
		t.Fatal(err)
	}
	all, err := s.Events(ctx, a)
	if err != nil || len(all) != 4 {
		t.Fatalf("Events = %d, %v", len(all), err)
	}
	for after := int64(-1); after <= 4; after++ {
		got, err := s.EventsAfter(ctx, a, after)
		if err != nil {
			t.Fatal(err)
		}
		want := all[max(after, 0):]
		if len(got) != len(want) {
			t.Fatalf("after %d: %d events, want %d", after, len(got), len(want))
		}
		for i := range got {
			if got[i].EventMeta().Seq != want[i].EventMeta().Seq || got[i].EventMeta().RunID != a {
				t.Errorf("after %d: event %d is seq %d of run %d, want seq %d of run %d", after, i, got[i].EventMeta().Seq, got[i].EventMeta().RunID, want[i].EventMeta().Seq, a)
			}
		}
	}
}
