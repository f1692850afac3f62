package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
)

// runIDArg reads a RUN_ID argument.
func runIDArg(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, withCode(exitUsage, fmt.Errorf("run id %q is not a run number (repli history lists them)", s))
	}
	return id, nil
}

// replayRun reads a run's events and rebuilds its runbook and progress.
func replayRun(ctx context.Context, s *store.Store, id int64) ([]engine.Event, *runbooks.Runbook, *engine.Progress, error) {
	events, err := s.Events(ctx, id)
	if err != nil {
		return nil, nil, nil, withCode(exitUsage, err)
	}
	rb, rep, err := engine.LoadRun(events)
	if err != nil {
		return nil, nil, nil, withCode(exitUsage, fmt.Errorf("run %d: %w", id, err))
	}
	return events, rb, rep, nil
}

// openForReview opens the audit trail read-only, for the commands that only
// read it (a copy on a laptop or a read-only medium works).
func openForReview(ctx context.Context, path string) (*store.Store, error) {
	s, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return s, nil
}
