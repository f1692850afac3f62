package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// InputKind is what an operator did.
type InputKind int

// Operator inputs.
const (
	InputApprove InputKind = iota
	InputRefuse
	InputTick
	// After a failure:
	InputRetry
	InputSkip
	InputAbort
	InputMarkDone
)

// Input is an operator's answer to an open gate. Inputs for a step that is
// not waiting are dropped, so a stray key can never approve a later gate.
type Input struct {
	Step     string
	Kind     InputKind
	Item     int    // InputTick: the checklist item, from 0
	Text     string // InputApprove on a typed gate: what the operator typed
	Operator string
}

func isRefusal(err error) bool { return errors.Is(err, ErrRefused) }

// ErrRunOver is returned when an input arrives after the run ended.
var ErrRunOver = errors.New("the run is over")

// Send delivers an operator input to the run.
func (e *Engine) Send(in Input) error {
	select {
	case e.inputs <- in:
		return nil
	case <-e.done:
		return ErrRunOver
	}
}

// Note records a free-text note from the operator, at any moment of the run.
func (e *Engine) Note(ctx context.Context, operator, text string) error {
	select {
	case <-e.done:
		return ErrRunOver
	default:
	}
	return e.emit(ctx, &NoteAdded{Operator: operator, Text: text})
}

// GateExpect returns what a typed gate wants typed: the name of the site the
// step acts on, or the runbook's name for a step with no site.
func GateExpect(rb *runbooks.Runbook, st *runbooks.Step) string {
	if site, _ := st.Target(); site != "" {
		return site
	}
	return rb.Name
}

func gatePrompt(rb *runbooks.Runbook, st *runbooks.Step) string {
	if st.Kind == runbooks.KindManual {
		return st.Manual.Text
	}
	site, doms := st.Target()
	return fmt.Sprintf("%s %d domain(s) at site %s: %v", st.Kind, len(doms), site, doms)
}

// gate opens the step's gate and waits for the operator's answer. It returns
// nil when approved and ErrRefused when refused.
func (e *Engine) gate(ctx context.Context, st *runbooks.Step) error {
	sp := e.step(st.ID)
	open := &GateOpened{Step: st.ID, Gate: string(st.Gate), Prompt: gatePrompt(e.rb, st), Approvers: max(1, st.Approvers), Approved: sp.Approvers}
	if st.Manual != nil {
		open.Record = st.Manual.Record
	}
	if st.Gate == runbooks.GateTyped {
		open.Expect = GateExpect(e.rb, st)
	}
	var checklist []string
	if st.Manual != nil {
		checklist = st.Manual.Checklist
		open.Checklist = checklist
	}
	open.Form = open.FormOf()
	if e.state(st.ID) != StepWaiting {
		if err := e.setState(ctx, st, StepWaiting, ""); err != nil {
			return err
		}
	}
	if err := e.emit(ctx, open); err != nil {
		return err
	}
	opened := time.Now()
	needed := max(1, st.Approvers)
	ticked := make([]bool, len(checklist))
	for i := range ticked {
		ticked[i] = sp.Ticked[i]
	}

	if e.opts.AutoApprove {
		for i, item := range checklist {
			if ticked[i] {
				continue
			}
			if err := e.tick(ctx, st.ID, i, item, AutoOperator); err != nil {
				return err
			}
		}
		return e.decided(ctx, &GateDecided{Step: st.ID, Approved: true, Operator: AutoOperator, Typed: open.Expect, Waited: time.Since(opened), Approvals: needed, Needed: needed})
	}

	for {
		var in Input
		select {
		case <-ctx.Done():
			return ctx.Err()
		case in = <-e.inputs:
		}
		if in.Step != st.ID {
			continue
		}
		switch in.Kind {
		case InputTick:
			if in.Item < 0 || in.Item >= len(ticked) || ticked[in.Item] {
				continue
			}
			ticked[in.Item] = true
			if err := e.tick(ctx, st.ID, in.Item, checklist[in.Item], in.Operator); err != nil {
				return err
			}
		case InputRefuse:
			if err := e.decided(ctx, &GateDecided{Step: st.ID, Approved: false, Operator: in.Operator, Typed: in.Text, Waited: time.Since(opened)}); err != nil {
				return err
			}
			return fmt.Errorf("%w by %s", ErrRefused, in.Operator)
		case InputApprove:
			if n := countFalse(ticked); n > 0 {
				if err := e.logf(ctx, st.ID, "warn", "%d checklist item(s) not ticked yet; tick every item first", n); err != nil {
					return err
				}
				continue
			}
			if open.Expect != "" && in.Text != open.Expect {
				if err := e.logf(ctx, st.ID, "warn", "typed %q, expected %q: not confirmed", in.Text, open.Expect); err != nil {
					return err
				}
				continue
			}
			if st.Manual != nil && st.Manual.Record && strings.TrimSpace(in.Text) == "" {
				if err := e.logf(ctx, st.ID, "warn", "this step records an answer: type what was done or found"); err != nil {
					return err
				}
				continue
			}
			sp := e.step(st.ID)
			if sp.ApprovedBy(in.Operator) {
				if err := e.logf(ctx, st.ID, "warn", "%s has already approved; a different operator must approve (repli approve %d %s)", in.Operator, e.opts.RunID, st.ID); err != nil {
					return err
				}
				continue
			}
			got := len(sp.Approvers) + 1
			dec := &GateDecided{Step: st.ID, Approved: true, Operator: in.Operator, Typed: in.Text, Waited: time.Since(opened), Approvals: got, Needed: needed}
			if err := e.decided(ctx, dec); err != nil {
				return err
			}
			if got >= needed {
				return nil
			}
			if err := e.logf(ctx, st.ID, "info", "%d of %d approvals; a second operator approves with: repli approve %d %s", got, needed, e.opts.RunID, st.ID); err != nil {
				return err
			}
		}
	}
}

// decided journals a gate decision, then lets Options.AfterDecision run
// before anything is acted on.
func (e *Engine) decided(ctx context.Context, d *GateDecided) error {
	if err := e.emit(ctx, d); err != nil {
		return err
	}
	if e.opts.AfterDecision == nil {
		return nil
	}
	if warn := e.opts.AfterDecision(ctx, d); warn != "" {
		return e.logf(ctx, d.Step, "warn", "%s", warn)
	}
	return nil
}

// tick records a checklist item as done; a resumed run does not ask again.
func (e *Engine) tick(ctx context.Context, step string, item int, text, operator string) error {
	return e.emit(ctx, &ChecklistTicked{Step: step, Item: item, Text: text, Operator: operator})
}

func countFalse(bs []bool) int {
	n := 0
	for _, b := range bs {
		if !b {
			n++
		}
	}
	return n
}
