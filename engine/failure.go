package engine

import (
	"context"
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
)

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
	e.attempts[st.ID]++
	if n := e.attempts[st.ID]; n <= st.Retries && !isRefusal(cause) {
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
	switch e.policy(st) {
	case runbooks.OnFailureContinue:
		return decide(ChoiceContinue, PolicyOperator)
	case runbooks.OnFailureAbort:
		return decide(ChoiceAbort, PolicyOperator)
	}
	return e.askFailure(ctx, st, cause.Error())
}

// askFailure waits for the operator's choice after a failure.
func (e *Engine) askFailure(ctx context.Context, st *runbooks.Step, cause string) (Choice, error) {
	if err := e.emit(ctx, &FailureOpened{Step: st.ID, Error: cause, Choices: []Choice{ChoiceRetry, ChoiceSkip, ChoiceAbort}}); err != nil {
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
		default:
			continue
		}
		if err := e.emit(ctx, &FailureDecided{Step: st.ID, Choice: c, Operator: in.Operator}); err != nil {
			return "", err
		}
		if c == ChoiceSkip {
			if err := e.setState(ctx, st, StepSkipped, "skipped by "+in.Operator+" after failure"); err != nil {
				return "", err
			}
		}
		return c, nil
	}
}
