package session

import (
	"context"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

// Standing is where a run that has not ended stands, for the home screen
// and history: its engine running detached, waiting for a person, driven
// by a console, or interrupted (nobody drives it: resume).
type Standing string

// Standings.
const (
	StandingEnded       Standing = ""
	StandingDetached    Standing = "running detached"
	StandingWaiting     Standing = "waiting for a person"
	StandingDriven      Standing = "driven by a console"
	StandingInterrupted Standing = "interrupted"
)

// StandingOf tells where run id of the trail s (at dbPath) stands. It only
// reads: the trail, and a ping of the run's engine socket.
func StandingOf(ctx context.Context, s *store.Store, dbPath string, id int64) Standing {
	run, err := s.Run(ctx, id)
	if err != nil || run.Outcome != engine.OutcomeRunning {
		return StandingEnded
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := Ping(pctx, dbPath, id); err == nil {
		evs, err := s.Events(ctx, id)
		if err != nil {
			return StandingDetached
		}
		if p, err := engine.ProgressOf(evs); err == nil && (p.Gate != nil || p.Failure != nil) {
			return StandingWaiting
		}
		return StandingDetached
	}
	if st, held, err := s.LeaseState(ctx, id); err == nil && held && !st.Stale {
		return StandingDriven
	}
	return StandingInterrupted
}
