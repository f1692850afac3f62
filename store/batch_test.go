package store

import (
	"context"
	"strings"
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
