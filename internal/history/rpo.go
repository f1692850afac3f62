package history

import (
	"context"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

// WithRPOAchieved fills a row's measured RPO from the run's one projection
// (engine.Progress.RPOAchieved): the oldest recovery point the run
// recorded, measured to the start of the outage. A run that recorded none
// keeps rpo_achieved_s null. Only --json shows it, so only --json reads the
// run's events for it.
func WithRPOAchieved(ctx context.Context, s *store.Store, r Run, row *Row) error {
	evs, err := s.Events(ctx, r.ID)
	if err != nil {
		return err
	}
	p, err := engine.ProgressOf(evs)
	if err != nil {
		return err
	}
	got, ok := p.RPOAchieved()
	if !ok {
		return nil
	}
	a := got.Seconds()
	row.RPOAchievedS = &a
	if r.RPO > 0 {
		met := got <= r.RPO
		row.RPOMet = &met
	}
	return nil
}
