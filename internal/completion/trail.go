package completion

import (
	"context"
	"strconv"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

// trailTimeout bounds reading the trail: completion must be quick.
const trailTimeout = 2 * time.Second

// TrailRuns are the runs of the trail at path, read-only; none when it
// cannot be read (completion completes nothing rather than fail).
func TrailRuns(path string) []store.Run {
	ctx, cancel := context.WithTimeout(context.Background(), trailTimeout)
	defer cancel()
	s, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		return nil
	}
	defer s.Close()
	runs, _ := s.Runs(ctx)
	return runs
}

// TrailEvents are the events of run runArg (its id as typed) in the trail
// at path, read-only; none when it cannot be read.
func TrailEvents(path, runArg string) []engine.Event {
	id, err := strconv.ParseInt(runArg, 10, 64)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), trailTimeout)
	defer cancel()
	s, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		return nil
	}
	defer s.Close()
	events, _ := s.Events(ctx, id)
	return events
}
