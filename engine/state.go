package engine

import (
	"context"
	"fmt"
)

// StepState is where a step is in its life. The values are stored in the
// journal: never rename one.
type StepState string

// Step states.
const (
	StepPending   StepState = "pending"
	StepWaiting   StepState = "waiting"
	StepRunning   StepState = "running"
	StepSucceeded StepState = "succeeded"
	StepFailed    StepState = "failed"
	StepSkipped   StepState = "skipped"
)

// Final reports whether a step in this state is over.
func (s StepState) Final() bool {
	return s == StepSucceeded || s == StepFailed || s == StepSkipped
}

// transitions lists every legal move; anything else is a bug in the engine
// and is refused rather than journaled.
var transitions = map[StepState][]StepState{
	StepPending: {StepWaiting, StepRunning, StepSkipped},
	StepWaiting: {StepRunning, StepSucceeded, StepFailed, StepSkipped},
	StepRunning: {StepSucceeded, StepFailed, StepSkipped},
	StepFailed:  {StepWaiting, StepRunning, StepSkipped},
}

func checkTransition(step string, from, to StepState) error {
	for _, ok := range transitions[from] {
		if ok == to {
			return nil
		}
	}
	return fmt.Errorf("step %s: illegal state change %s → %s", step, from, to)
}

// Outcome is how a run ended. The values are stored: never rename one.
type Outcome string

// Outcomes.
const (
	OutcomeRunning   Outcome = "running"
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeFailed    Outcome = "failed"
	OutcomeAborted   Outcome = "aborted"
)

// Journal is where the engine writes every event before anything else
// happens. Append returns only once the event is durable; when it fails, the
// engine performs no further action. store implements it over SQLite.
type Journal interface {
	Append(ctx context.Context, ev Event) error
}
