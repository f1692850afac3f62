package main

import (
	"context"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

// withRPOAchieved fills a history row's measured RPO from the run's one
// projection (engine.Progress.RPOAchieved): the oldest recovery point the run
// recorded, measured to the start of the outage. A run that recorded none
// keeps rpo_achieved_s null. Only --json shows it, so only --json reads the
// run's events for it.
func withRPOAchieved(ctx context.Context, s *store.Store, r historyRun, row *historyRow) error {
	evs, err := s.Events(ctx, r.ID)
	if err != nil {
		return err
	}
	p, err := engine.ProgressOf(evs)
	if err != nil {
		return err
	}
	// The target is the row's already (the recorded runbook's rpo):
	// RPOAchieved spares parsing the runbook once more per run.
	got, ok := p.RPOAchieved()
	if !ok {
		return nil
	}
	a := got.Seconds()
	row.RPOAchievedS = &a
	if r.rpo > 0 {
		met := got <= r.rpo
		row.RPOMet = &met
	}
	return nil
}
