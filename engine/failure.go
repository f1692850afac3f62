package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// Choice is what happens after a step failed. The values are stored.
type Choice string

// Choices after a failure.
const (
	ChoiceRetry    Choice = "retry"
	ChoiceSkip     Choice = "skip"
	ChoiceContinue Choice = "continue"
	ChoiceAbort    Choice = "abort"
	// ChoiceMarkDone records a command in doubt as done without running it.
	ChoiceMarkDone Choice = "mark-done"
)

// DoubtError is a step whose command was running when the console stopped:
// whether it completed is unknown, and only the operator can say.
type DoubtError struct {
	Intent *ActionIntent
	// Running is the command's process when it was still alive at resume:
	// it is not offered to be run again beside itself.
	Running *ExecStarted
}

func (d *DoubtError) Error() string {
	if d.Running != nil {
		return fmt.Sprintf("its command was running when the console stopped and may still be running (pid %d): wait for it to end, then mark it done or skip it; it is not run a second time", d.Running.PID)
	}
	return "its command was running when the console stopped; whether it completed is unknown: re-run it, mark it done, or skip it"
}

func isDoubt(err error) bool {
	var d *DoubtError
	return errors.As(err, &d)
}

// PolicyOperator is recorded for decisions the runbook's failure policy made.
const PolicyOperator = "policy"

// FailureOpened says a failed step waits for the operator to choose between
// retrying it, skipping it and aborting the run.
type FailureOpened struct {
	Meta
	Step    string   `json:"step"`
	Error   string   `json:"error"`
	Choices []Choice `json:"choices"`
}

// FailureDecided records what was chosen after a failure, and by whom.
type FailureDecided struct {
	Meta
	Step     string `json:"step"`
	Choice   Choice `json:"choice"`
	Operator string `json:"operator"`
	// Reason is what the operator typed to skip or abort.
	Reason string `json:"reason,omitempty"`
}

// Kind implements Event.
func (*FailureOpened) Kind() string { return "failure.opened" }

// Kind implements Event.
func (*FailureDecided) Kind() string { return "failure.decided" }

func init() {
	eventTypes["failure.opened"] = func() Event { return &FailureOpened{} }
	eventTypes["failure.decided"] = func() Event { return &FailureDecided{} }
}

// policy is the step's failure policy once defaults are applied: ask when a
// person is at the console, abort when gates are answered automatically.
func (e *Engine) policy(st *runbooks.Step) runbooks.OnFailure {
	if st.OnFailure != "" {
		if st.OnFailure == runbooks.OnFailureAsk && e.opts.AutoApprove {
			return runbooks.OnFailureAbort
		}
		return st.OnFailure
	}
	if e.opts.AutoApprove {
		return runbooks.OnFailureAbort
	}
	return runbooks.OnFailureAsk
}

// onFailure decides what follows a failed step: an automatic retry while the
// step has retries left, then its failure policy.
func (e *Engine) onFailure(ctx context.Context, st *runbooks.Step, cause error) (Choice, error) {
	decide := func(c Choice, op string) (Choice, error) {
		return c, e.emit(ctx, &FailureDecided{Step: st.ID, Choice: c, Operator: op})
	}
	// The step's failures so far, this one included (it was journaled as
	// failed), or, on resume, the one that left the step failed.
	n := max(1, e.step(st.ID).Failures)
	if n <= st.Retries && !isRefusal(cause) && !isDoubt(cause) {
		delay := st.RetryDelay << (n - 1)
		if err := e.logf(ctx, st.ID, "warn", "retrying in %s (retry %d of %d)", delay, n, st.Retries); err != nil {
			return "", err
		}
		t := time.NewTimer(e.scaled(delay))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
		}
		return decide(ChoiceRetry, PolicyOperator)
	}
	if isDoubt(cause) {
		if e.opts.AutoApprove {
			return decide(ChoiceAbort, PolicyOperator)
		}
		var d *DoubtError
		if errors.As(cause, &d) && d.Running != nil {
			return e.askFailure(ctx, st, cause.Error(), []Choice{ChoiceMarkDone, ChoiceSkip, ChoiceAbort})
		}
		return e.askFailure(ctx, st, cause.Error(), []Choice{ChoiceRetry, ChoiceMarkDone, ChoiceSkip, ChoiceAbort})
	}
	switch e.policy(st) {
	case runbooks.OnFailureContinue:
		return decide(ChoiceContinue, PolicyOperator)
	case runbooks.OnFailureAbort:
		return decide(ChoiceAbort, PolicyOperator)
	}
	return e.askFailure(ctx, st, cause.Error(), []Choice{ChoiceRetry, ChoiceSkip, ChoiceAbort})
}

// askFailure waits for the operator's choice after a failure.
func (e *Engine) askFailure(ctx context.Context, st *runbooks.Step, cause string, choices []Choice) (Choice, error) {
	if err := e.emit(ctx, &FailureOpened{Step: st.ID, Error: cause, Choices: choices}); err != nil {
		return "", err
	}
	for {
		var in Input
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case in = <-e.inputs:
		}
		if in.Step != st.ID {
			continue
		}
		var c Choice
		switch in.Kind {
		case InputRetry:
			c = ChoiceRetry
		case InputSkip:
			c = ChoiceSkip
		case InputAbort:
			c = ChoiceAbort
		case InputMarkDone:
			c = ChoiceMarkDone
		default:
			continue
		}
		if !containsChoice(choices, c) {
			continue
		}
		reason := strings.TrimSpace(in.Text)
		if err := e.emit(ctx, &FailureDecided{Step: st.ID, Choice: c, Operator: in.Operator, Reason: reason}); err != nil {
			return "", err
		}
		switch c {
		case ChoiceSkip:
			why := "skipped by " + in.Operator + " after failure"
			if reason != "" {
				why += ": " + reason
			}
			if err := e.setState(ctx, st, StepSkipped, why); err != nil {
				return "", err
			}
		case ChoiceMarkDone:
			if err := e.setState(ctx, st, StepSucceeded, "marked done by "+in.Operator+" (its command was in doubt)"); err != nil {
				return "", err
			}
		}
		return c, nil
	}
}

func containsChoice(cs []Choice, c Choice) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}
