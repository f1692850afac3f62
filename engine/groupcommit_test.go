package engine_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/repli-dr/repli/engine"
)

// batchJournal records its commits; the first commit blocks until release
// is closed, so that the test decides what queues behind it.
type batchJournal struct {
	mu      sync.Mutex
	commits [][]int64 // seqs of each commit
	entered chan struct{}
	release chan struct{}
	failAt  int64 // seq whose commit fails
}

func (j *batchJournal) Append(ctx context.Context, ev engine.Event) error {
	return j.AppendBatch(ctx, []engine.Event{ev})
}

func (j *batchJournal) AppendBatch(_ context.Context, evs []engine.Event) error {
	j.mu.Lock()
	first := len(j.commits) == 0
	j.mu.Unlock()
	if first && j.release != nil {
		close(j.entered)
		<-j.release
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	var seqs []int64
	for _, ev := range evs {
		if ev.EventMeta().Seq == j.failAt {
			return errors.New("disk full")
		}
		seqs = append(seqs, ev.EventMeta().Seq)
	}
	j.commits = append(j.commits, seqs)
	return nil
}

// emitter numbers events under one lock and enqueues them, as the engine's
// emit does.
type emitter struct {
	mu  sync.Mutex
	seq int64
	c   *engine.Committer
}

func (e *emitter) emit() *engine.Pending {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	ev := &engine.Logged{Message: "x"}
	ev.RunID, ev.Seq = 1, e.seq
	return e.c.Enqueue(ev)
}

func TestCommitterGroupsWhatQueuesBehindACommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := &batchJournal{entered: make(chan struct{}), release: make(chan struct{})}
	var durable []int64
	e := &emitter{}
	e.c = engine.NewCommitter(ctx, j, func(ev engine.Event) { durable = append(durable, ev.EventMeta().Seq) })
	first := e.emit()
	<-j.entered // the first commit is under way: 16 launches queue behind it
	var rest []*engine.Pending
	for range 16 {
		rest = append(rest, e.emit())
	}
	close(j.release)
	for _, p := range append([]*engine.Pending{first}, rest...) {
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.c.Close()
	if len(j.commits) != 2 || len(j.commits[0]) != 1 || len(j.commits[1]) != 16 {
		t.Fatalf("commits = %v; want [1] then the 16 queued behind it in one", j.commits)
	}
	for i, s := range durable {
		if s != int64(i+1) {
			t.Fatalf("durable in order %v, want 1..17", durable)
		}
	}
}

func TestCommitterConcurrentEmitsStayInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := &batchJournal{}
	var durable []int64
	e := &emitter{}
	e.c = engine.NewCommitter(ctx, j, func(ev engine.Event) { durable = append(durable, ev.EventMeta().Seq) })
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := e.emit().Wait(ctx); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	e.c.Close()
	var committed []int64
	for _, c := range j.commits {
		committed = append(committed, c...)
	}
	if len(committed) != 800 || len(durable) != 800 {
		t.Fatalf("%d committed, %d durable; want 800", len(committed), len(durable))
	}
	for i := range committed {
		if committed[i] != int64(i+1) || durable[i] != int64(i+1) {
			t.Fatalf("event %d committed as #%d, durable as #%d", i+1, committed[i], durable[i])
		}
	}
}

func TestCommitterFailureFailsEverythingAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := &batchJournal{entered: make(chan struct{}), release: make(chan struct{}), failAt: 3}
	e := &emitter{}
	e.c = engine.NewCommitter(ctx, j, nil)
	defer e.c.Close()
	first := e.emit()
	<-j.entered
	second, third, fourth := e.emit(), e.emit(), e.emit()
	close(j.release)
	if err := first.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*engine.Pending{second, third, fourth, e.emit()} {
		if err := p.Wait(ctx); err == nil || err.Error() != "disk full" {
			t.Fatalf("Wait after a failed commit = %v; want disk full", err)
		}
	}
	if len(j.commits) != 1 {
		t.Fatalf("commits = %v; only the first should be durable", j.commits)
	}
}

func TestCommitterPlainJournalOneByOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := &plainJournal{failAt: 3}
	e := &emitter{}
	e.c = engine.NewCommitter(ctx, j, nil)
	defer e.c.Close()
	var ps []*engine.Pending
	for range 4 {
		ps = append(ps, e.emit())
	}
	for i, p := range ps {
		err := p.Wait(ctx)
		if (i < 2) != (err == nil) {
			t.Fatalf("event %d: %v", i+1, err)
		}
	}
	if len(j.seqs) != 2 {
		t.Fatalf("appended %v; want #1 and #2 only", j.seqs)
	}
}

type plainJournal struct {
	seqs   []int64
	failAt int64
}

func (j *plainJournal) Append(_ context.Context, ev engine.Event) error {
	if ev.EventMeta().Seq == j.failAt {
		return errors.New("disk full")
	}
	j.seqs = append(j.seqs, ev.EventMeta().Seq)
	return nil
}
