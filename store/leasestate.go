package store

import (
	"context"
)

// LeaseState reads who drives a run and whether that console looks gone,
// without taking or touching the lease: for watchers, on a trail opened
// read-only. held is false when no console holds the run (it was released
// or never taken); the *LeaseHeldError then is nil.
func (s *Store) LeaseState(ctx context.Context, runID int64) (state *LeaseHeldError, held bool, err error) {
	l, held, err := readLease(ctx, s.db, runID)
	if err != nil || !held {
		return nil, held, err
	}
	return s.heldError(runID, l, s.now()), true, nil
}
