package store

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

// TestKilledBeforeFirstEvent kills a console between reserving its run and
// writing the run's first event. What is left is no run: not listed, not
// resumable, not taken over (a takeover would become the run's first event
// and make it unresumable for good), and the trail verifies.
func TestKilledBeforeFirstEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	h := startHelper(t, "reserve", path)
	id, err := strconv.ParseInt(h.expect("RESERVED"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	h.cmd.Wait()
	h.done = true

	s := console(t, path, time.Now().Add(time.Minute))
	runs, err := s.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		t.Errorf("a run that never started is listed: %+v", r)
	}
	if _, err := s.Run(ctx, id); !errors.Is(err, ErrNeverStarted) || !errors.Is(err, ErrNoRun) {
		t.Errorf("Run(%d) = %v, want ErrNeverStarted", id, err)
	}
	if _, err := s.TakeOverLease(ctx, id, Holder{Operator: "bob"}, "alice's console died"); !errors.Is(err, ErrNeverStarted) {
		t.Errorf("TakeOverLease of a run that never started = %v, want ErrNeverStarted", err)
	}
	if evs, err := s.Events(ctx, id); err != nil || len(evs) != 0 {
		t.Errorf("the run got events: %v, %v", evs, err)
	}
	if _, err := s.RequestApproval(ctx, Approval{RunID: id, Step: "stop-primary", Operator: "bob"}); !errors.Is(err, ErrNeverStarted) {
		t.Errorf("RequestApproval = %v, want ErrNeverStarted", err)
	}
	if v, err := s.Verify(ctx, 0); err != nil || !v.OK {
		t.Errorf("Verify = %+v, %v", v, err)
	}

	// The next run is made whole by its first event.
	next := createRun(t, s, "erp")
	if next == id {
		t.Fatalf("the reserved id %d was handed out again", id)
	}
	appendAll(t, s, next, 0, failoverEvents("")[:1])
	if r, err := s.Run(ctx, next); err != nil || r.Outcome != engine.OutcomeRunning {
		t.Errorf("Run(%d) after run.started = %+v, %v", next, r, err)
	}
}

// TestRunRowComesFromRunStarted: the row a run gets is what its run.started
// event says, in the same transaction; a run cannot start with another
// event, nor start twice.
func TestRunRowComesFromRunStarted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTemp(t)
	id, err := s.CreateRun(ctx, RunInfo{Runbook: "provisional", Mode: "live", Operator: "nobody", StartedAt: base.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, nextEvent(id, 1)); err == nil {
		t.Fatal("a run started with a log event")
	}
	evs := failoverEvents("")
	appendAll(t, s, id, 0, evs[:1])
	r, err := s.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	st := evs[0].(*engine.RunStarted)
	if r.Runbook != st.Runbook || r.Mode != st.Mode || r.Operator != st.Operator || r.Title != st.Title || r.Host != st.Host ||
		r.RTOTarget != st.RTOTarget || !r.StartedAt.Equal(st.At) {
		t.Errorf("run row %+v\ndoes not say what run.started says: %+v", r, st)
	}
	again := &engine.RunStarted{Runbook: "other", Mode: "live", Operator: "mallory"}
	again.RunID, again.Seq, again.At = id, 2, base.Add(time.Minute)
	if err := s.Append(ctx, again); err == nil {
		t.Error("a run started twice")
	}
}
