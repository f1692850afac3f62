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

func gatePrompt(st *runbooks.Step, site string, doms []string) string {
	if st.Kind == runbooks.KindManual {
		return st.Manual.Text
	}
	if site == "" {
		return fmt.Sprintf("%s: %s", st.Kind, st.Title)
	}
	return fmt.Sprintf("%s %d domain(s) at site %s: %s", st.Kind, len(doms), site, strings.Join(doms, ", "))
}

// gate opens the step's gate and waits for the operator's answer. It returns
// nil when approved and ErrRefused when refused.
func (e *Engine) gate(ctx context.Context, st *runbooks.Step) error {
	open, err := e.openGate(ctx, st)
	if err != nil {
		return err
	}
	g := &openedGate{GateOpened: open, st: st, at: time.Now(), needed: max(1, st.Approvers), ticked: make([]bool, len(open.Checklist))}
	sp := e.step(st.ID)
	for i := range g.ticked {
		g.ticked[i] = sp.Ticked[i]
	}
	if e.opts.AutoApprove {
		for i, item := range open.Checklist {
			if !g.ticked[i] {
				if err := e.tick(ctx, st.ID, i, item, AutoOperator); err != nil {
					return err
				}
			}
		}
		return e.decided(ctx, &GateDecided{Step: st.ID, Approved: true, Operator: AutoOperator, Typed: open.Expect, Waited: time.Since(g.at), Approvals: g.needed, Needed: g.needed})
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
		done, err := e.answer(ctx, g, in)
		if done || err != nil {
			return err
		}
	}
}

// openedGate is a gate waiting for its answers.
type openedGate struct {
	*GateOpened
	st     *runbooks.Step
	at     time.Time
	needed int
	ticked []bool
}

// openGate resolves what the step acts on and opens its gate: the step
// waits, and the question is in the trail.
func (e *Engine) openGate(ctx context.Context, st *runbooks.Step) (*GateOpened, error) {
	sp := e.step(st.ID)
	site, targets, err := e.gateTargets(ctx, st)
	if err != nil {
		return nil, err
	}
	open := &GateOpened{Step: st.ID, Gate: string(st.Gate), Prompt: gatePrompt(st, site, targets), Targets: targets, Approvers: max(1, st.Approvers), Approved: sp.Approvers}
	if st.Manual != nil {
		open.Record = st.Manual.Record
		open.Checklist = st.Manual.Checklist
	}
	if st.Gate == runbooks.GateTyped {
		open.Expect = GateExpect(e.rb, st)
	}
	open.Form = open.FormOf()
	if e.state(st.ID) != StepWaiting {
		if err := e.setState(ctx, st, StepWaiting, ""); err != nil {
			return nil, err
		}
	}
	return open, e.emit(ctx, open)
}

// answer takes one input at an open gate; done when the gate is closed
// (approved by everyone needed: nil, refused: ErrRefused).
func (e *Engine) answer(ctx context.Context, g *openedGate, in Input) (done bool, err error) {
	st := g.st
	switch in.Kind {
	case InputTick:
		if in.Item < 0 || in.Item >= len(g.ticked) || g.ticked[in.Item] {
			return false, nil
		}
		g.ticked[in.Item] = true
		return false, e.tick(ctx, st.ID, in.Item, g.Checklist[in.Item], in.Operator)
	case InputRefuse:
		if err := e.decided(ctx, &GateDecided{Step: st.ID, Approved: false, Operator: in.Operator, Typed: in.Text, Waited: time.Since(g.at)}); err != nil {
			return true, err
		}
		return true, fmt.Errorf("%w by %s", ErrRefused, in.Operator)
	case InputApprove:
		if why := e.notYet(g, in); why != "" {
			return false, e.logf(ctx, st.ID, "warn", "%s", why)
		}
		got := len(e.step(st.ID).Approvers) + 1
		dec := &GateDecided{Step: st.ID, Approved: true, Operator: in.Operator, Typed: in.Text, Waited: time.Since(g.at), Approvals: got, Needed: g.needed}
		if err := e.decided(ctx, dec); err != nil {
			return true, err
		}
		if got >= g.needed {
			return true, nil
		}
		return false, e.logf(ctx, st.ID, "info", "%d of %d approvals; a second operator approves with: repli approve %d %s", got, g.needed, e.opts.RunID, st.ID)
	}
	return false, nil
}

// notYet says why an approval cannot close the gate yet, or "".
func (e *Engine) notYet(g *openedGate, in Input) string {
	switch {
	case countFalse(g.ticked) > 0:
		return fmt.Sprintf("%d checklist item(s) not ticked yet; tick every item first", countFalse(g.ticked))
	case g.Expect != "" && in.Text != g.Expect:
		return fmt.Sprintf("typed %q, expected %q: not confirmed", in.Text, g.Expect)
	case g.st.Manual != nil && g.st.Manual.Record && strings.TrimSpace(in.Text) == "":
		return "this step records an answer: type what was done or found"
	case e.approvedBy(g.st.ID, in.Operator):
		return fmt.Sprintf("%s has already approved; a different operator must approve (repli approve %d %s)", in.Operator, e.opts.RunID, g.st.ID)
	}
	return ""
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

func (e *Engine) approvedBy(step, op string) bool {
	sp := e.step(step)
	return sp.ApprovedBy(op)
}
