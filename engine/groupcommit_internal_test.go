package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// batchJournal is a BatchJournal in memory that records each commit. Its
// first commit waits until hold says so: the emitters that come meanwhile
// queue up behind it. A batch fails when failBatch is set; one Append
// fails for each event named in failOnce.
type batchJournal struct {
	mu        sync.Mutex
	commits   [][]int64 // the seqs of each commit, in order
	events    []Event
	hold      func()
	failBatch bool
	failOnce  map[string]bool // by the message of a Logged
	// failOutcome refuses every action.outcome.
	failOutcome bool
}

func (j *batchJournal) first() {
	j.mu.Lock()
	hold := j.hold
	j.hold = nil
	j.mu.Unlock()
	if hold != nil {
		hold()
	}
}

func (j *batchJournal) Append(ctx context.Context, ev Event) error {
	j.first()
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := ev.(*ActionOutcome); ok && j.failOutcome {
		return errors.New("database is locked")
	}
	if l, ok := ev.(*Logged); ok && j.failOnce[l.Message] {
		delete(j.failOnce, l.Message)
		return errors.New("database is locked")
	}
	if err := j.follows(ev); err != nil {
		return err
	}
	j.events = append(j.events, ev)
	j.commits = append(j.commits, []int64{ev.EventMeta().Seq})
	return nil
}

func (j *batchJournal) AppendBatch(ctx context.Context, evs []Event) error {
	j.first()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failBatch {
		return errors.New("database is locked")
	}
	var seqs []int64
	n := len(j.events)
	for _, ev := range evs {
		if err := j.follows(ev); err != nil {
			j.events = j.events[:n] // all or nothing
			return err
		}
		j.events = append(j.events, ev)
		seqs = append(seqs, ev.EventMeta().Seq)
	}
	j.commits = append(j.commits, seqs)
	return nil
}

// follows refuses an event whose seq does not follow the last one, as the
// store does.
func (j *batchJournal) follows(ev Event) error {
	if want := int64(len(j.events)) + 1; ev.EventMeta().Seq != want {
		return fmt.Errorf("event %d does not follow %d", ev.EventMeta().Seq, want-1)
	}
	return nil
}

type noSite struct{ Hypervisor }

func groupEngine(t *testing.T, j Journal) *Engine {
	t.Helper()
	rb, diags := runbooks.Parse("g.yaml", []byte("version: 1\nname: g\nsites:\n  p: {uri: sim://p}\nsteps:\n  - id: a\n    manual: Nothing.\n"))
	if rb == nil {
		t.Fatal(diags)
	}
	e, err := New(rb, map[string]Hypervisor{"p": noSite{}}, j, Options{RunID: 1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// queued waits until n events are queued behind the commit under way.
func (e *Engine) queued(n int) func() {
	return func() {
		for {
			e.mu.Lock()
			q := len(e.queue)
			e.mu.Unlock()
			if q >= n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// Events emitted while a commit is under way share the next commit, in
// seq order, and each emitter returns only once its event is durable.
func TestEmitsWhileACommitRunsShareTheNext(t *testing.T) {
	t.Parallel()
	j := &batchJournal{}
	e := groupEngine(t, j)
	const n = 8
	j.hold = e.queued(n - 1)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			err := e.emit(context.Background(), &Logged{Message: fmt.Sprint(i)})
			if err == nil {
				// Durable and applied before emit returns.
				j.mu.Lock()
				found := false
				for _, ev := range j.events {
					found = found || ev.(*Logged).Message == fmt.Sprint(i)
				}
				j.mu.Unlock()
				if !found {
					err = fmt.Errorf("emit of %d returned before its event was durable", i)
				}
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if len(j.commits) != 2 || len(j.commits[0]) != 1 || len(j.commits[1]) != n-1 {
		t.Fatalf("commits %v, want the first event alone and the %d queued behind it in one", j.commits, n-1)
	}
	e.finish()
	var seq int64
	for ev := range e.Events() {
		seq++
		if ev.EventMeta().Seq != seq {
			t.Fatalf("published seq %d after %d", ev.EventMeta().Seq, seq-1)
		}
	}
	if seq != n {
		t.Errorf("%d events published, want %d", seq, n)
	}
}

// A batch the trail refuses is tried one event at a time: the event that
// still fails fails alone, and the events after it are numbered again so
// that the trail has no gap; an event emitted after is numbered next.
func TestARefusedBatchIsTriedOneByOne(t *testing.T) {
	t.Parallel()
	j := &batchJournal{failBatch: true, failOnce: map[string]bool{"b": true}}
	e := groupEngine(t, j)
	if err := e.emit(context.Background(), &Logged{Message: "first"}); err != nil {
		t.Fatal(err)
	}
	j.hold = e.queued(3)
	errs := map[string]chan error{}
	for _, m := range []string{"head", "a", "b", "c"} {
		errs[m] = make(chan error, 1)
	}
	go func() { errs["head"] <- e.emit(context.Background(), &Logged{Message: "head"}) }()
	for {
		e.mu.Lock()
		c := e.committing
		e.mu.Unlock()
		if c {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for k, m := range []string{"a", "b", "c"} {
		// One after the other, so that the queue is in this order.
		go func() { errs[m] <- e.emit(context.Background(), &Logged{Message: m}) }()
		if k < 2 {
			e.queued(k + 1)() // the third releases the commit under way
		}
	}
	for _, m := range []string{"head", "a", "c"} {
		if err := <-errs[m]; err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	if err := <-errs["b"]; !errors.Is(err, errStopped) {
		t.Errorf("b: err %v, want the run stopped", err)
	}
	if err := e.emit(context.Background(), &Logged{Message: "b"}); err != nil {
		t.Fatalf("b again: %v", err)
	}
	var got []string
	for i, ev := range j.events {
		if ev.EventMeta().Seq != int64(i+1) {
			t.Errorf("event %d has seq %d", i, ev.EventMeta().Seq)
		}
		got = append(got, ev.(*Logged).Message)
	}
	if fmt.Sprint(got) != "[first head a c b]" {
		t.Errorf("trail %v, want [first head a c b]", got)
	}
	if p := e.Progress(); p.LastSeq != 5 {
		t.Errorf("progress at seq %d, want 5", p.LastSeq)
	}
}

// An outcome queued by emitLater shares the commit of the next event; the
// next emitter returns only once both are durable, in order.
func TestALaterOutcomeSharesTheNextCommit(t *testing.T) {
	t.Parallel()
	j := &batchJournal{}
	e := groupEngine(t, j)
	e.lingerFor = time.Hour // only the next event commits it
	ctx := context.Background()
	if err := e.emitLater(ctx, &ActionOutcome{Action: 1, Verb: "start", OK: true}); err != nil {
		t.Fatal(err)
	}
	if len(j.events) != 0 {
		t.Fatal("emitLater waited for a commit")
	}
	if err := e.emit(ctx, &ActionIntent{Action: 2, Verb: "start"}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(j.commits) != "[[1 2]]" {
		t.Fatalf("commits %v, want the outcome and the next intent in one", j.commits)
	}
	if p := e.Progress(); p.LastSeq != 2 {
		t.Errorf("progress at seq %d, want 2", p.LastSeq)
	}
	// One more, that nothing follows: finish commits it.
	if err := e.emitLater(ctx, &ActionOutcome{Action: 2, Verb: "start", OK: true}); err != nil {
		t.Fatal(err)
	}
	e.finish()
	if fmt.Sprint(j.commits) != "[[1 2] [3]]" {
		t.Fatalf("commits %v, want the last outcome committed at the end", j.commits)
	}
	n := 0
	for range e.Events() {
		n++
	}
	if n != 3 {
		t.Errorf("%d events published, want 3", n)
	}
}

// An outcome queued by emitLater that the trail never takes: nothing after
// it is written, the next emitter is told the run stops, and so is every
// emitter after.
func TestALaterOutcomeTheTrailRefusesStopsTheRun(t *testing.T) {
	t.Parallel()
	j := &batchJournal{failBatch: true, failOutcome: true}
	e := groupEngine(t, j)
	e.opts.OutcomeBudget = 20 * time.Millisecond
	e.lingerFor = time.Hour
	ctx := context.Background()
	if err := e.emitLater(ctx, &ActionOutcome{Action: 1, Site: "p", Domain: "vm", Verb: "start", OK: true}); err != nil {
		t.Fatal(err)
	}
	err := e.emit(ctx, &ActionIntent{Action: 2, Verb: "start"})
	if !errors.Is(err, errStopped) || !strings.Contains(err.Error(), "outcome of start p/vm could not be recorded") {
		t.Fatalf("next intent: err %v, want the run stopped for the outcome", err)
	}
	if len(j.events) != 0 {
		t.Fatalf("%d events written after an outcome the trail did not take", len(j.events))
	}
	if err := e.emit(ctx, &Logged{Message: "later"}); !errors.Is(err, errStopped) {
		t.Errorf("a later event: err %v, want the run stopped", err)
	}
	if err := e.emitLater(ctx, &ActionOutcome{Action: 2}); !errors.Is(err, errStopped) {
		t.Errorf("a later outcome: err %v, want the run stopped", err)
	}
}
