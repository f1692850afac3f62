package engine

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// Progress is where a run stands: the one projection of its events. The
// engine applies every event it journals; a resumed run, the terminal UI,
// watch, approve, show, report and history apply the recorded events in
// order and read the same answer. Nobody else folds events: a second fold is
// a second opinion, and the first time the two disagree a user sees it.
//
// Apply never fails and never reads a clock: the same events give the same
// Progress, wherever and whenever they are applied.
type Progress struct {
	Started *RunStarted
	Ended   *RunEnded
	// Sessions are the consoles that drove the run: the first, then each
	// resume and takeover.
	Sessions []Session
	LastSeq  int64
	LastAt   time.Time
	Events   int

	// Steps, by id; Order is the order in which steps were first seen.
	Steps map[string]*StepProgress
	Order []string

	// Gate is the gate open now (nil when none); Failure the failed step
	// waiting for the operator's choice.
	Gate    *OpenGate
	Failure *FailureOpened

	Decisions []Decision
	Actions   []*ActionProgress
	actions   map[int64]*ActionProgress
	ActionID  int64
	Notes     []*NoteAdded
	Output    []*OutputCaptured

	RTOStart     time.Time
	RTOStop      time.Time
	RTOStartStep string
	RTOStopStep  string
	RTOAchieved  time.Duration
	// RecoveryPoints are the recovery points recorded, in order (rpo.go).
	RecoveryPoints []*RecoveryPoint
	// Secrets are the secrets handed to commands, in order (secret.go).
	Secrets []*SecretSupplied
	// Verified are the files whose SHA-256 a check compared, in order
	// (checksum.go).
	Verified []*FileVerified

	// Failures are steps skipped after a failure (the run cannot succeed);
	// Tolerated are failures the runbook allows (on_failure: continue).
	Failures  []string
	Tolerated []string
}

// StepProgress is one step's life so far.
type StepProgress struct {
	ID     string
	State  StepState
	Reason string
	// Began is when the step first left pending; Ended when it last
	// reached a final state (zero while it is not in one).
	Began time.Time
	Ended time.Time
	// Failures counts the times the step failed (the retry budget); Runs
	// the times it started acting.
	Failures int
	Runs     int
	// Passed: the run has moved past this step (done, skipped, or a
	// failure the operator or the policy let through).
	Passed bool
	// Approved: the step's gate was answered yes by every approver needed.
	Approved  bool
	Approvers []string
	Ticked    map[int]bool
	// Ticks are the ticks since the step's last gate decision, with who
	// ticked and when.
	Ticks []*ChecklistTicked
	// FailedWhy is set while a failed step waits for a decision.
	FailedWhy string
	// Gate is the last gate the step opened.
	Gate *GateOpened
	// Exec is the outcome of the step's command in its current attempt,
	// once recorded: final, never run again.
	Exec *ActionOutcome
}

// Duration is how long the step took, or has taken so far by now.
func (s *StepProgress) Duration(now time.Time) time.Duration {
	switch {
	case s.Began.IsZero():
		return 0
	case !s.Ended.IsZero():
		return s.Ended.Sub(s.Began)
	case now.Before(s.Began):
		return 0
	}
	return now.Sub(s.Began)
}

// ApprovedBy reports whether op already approved the step's gate.
func (s *StepProgress) ApprovedBy(op string) bool {
	for _, a := range s.Approvers {
		if a == op {
			return true
		}
	}
	return false
}

// OpenGate is a gate waiting for the operator, with what was already done
// at it: ticked items and approvals.
type OpenGate struct {
	*GateOpened
	Ticked    map[int]bool
	Approvals []string
}

// Session is one console that drove the run.
type Session struct {
	At        time.Time     `json:"at"`
	How       string        `json:"how"` // started, resumed, took over
	Operator  string        `json:"operator"`
	Host      string        `json:"host,omitempty"`
	SSHClient string        `json:"ssh_client,omitempty"`
	Gap       time.Duration `json:"gap_ns,omitempty"`
	Reason    string        `json:"reason,omitempty"`
}

// SessionEvent is an event that hands the run to another console; the store
// records lease takeovers with one.
type SessionEvent interface {
	Event
	Session() Session
}

// Decision is one answer at a gate or after a failure.
type Decision struct {
	Step     string        `json:"step"`
	Gate     string        `json:"gate"`
	At       time.Time     `json:"at"`
	Operator string        `json:"operator"`
	Approved bool          `json:"approved"`
	Typed    string        `json:"typed,omitempty"`
	Waited   time.Duration `json:"waited_ns"`
	Ticked   []string      `json:"ticked,omitempty"`
	Choice   Choice        `json:"choice,omitempty"` // after a failure
	Seq      int64         `json:"seq"`
}

// ActionResult is what became of an action.
type ActionResult string

// Action results.
const (
	ActionInDoubt      ActionResult = "in doubt"
	ActionOK           ActionResult = "ok"
	ActionFailed       ActionResult = "failed"
	ActionFoundDone    ActionResult = "in doubt, found done on resume"
	ActionFoundNotDone ActionResult = "in doubt, found not done on resume"
	// ActionDecided: a command in doubt the operator decided on (re-run,
	// mark done, skip, abort); it is not in doubt any more.
	ActionDecided ActionResult = "in doubt, decided by the operator"
)

// ActionProgress is one action on a hypervisor, or one command.
type ActionProgress struct {
	Intent *ActionIntent
	// Process is the process an exec started, once recorded.
	Process  *ExecStarted
	At       time.Time
	Result   ActionResult
	Error    string
	Duration time.Duration
}

// NewProgress is an empty projection, ready for a run's first event.
func NewProgress() *Progress {
	return &Progress{Steps: map[string]*StepProgress{}, actions: map[int64]*ActionProgress{}}
}

// ProgressOf applies a run's recorded events, in order.
func ProgressOf(events []Event) (*Progress, error) {
	if len(events) == 0 {
		return nil, errors.New("the run has no events")
	}
	if _, ok := events[0].(*RunStarted); !ok {
		return nil, fmt.Errorf("the run's first event is %s, not run.started", events[0].Kind())
	}
	p := NewProgress()
	for _, ev := range events {
		p.Apply(ev)
	}
	return p, nil
}

// Step returns a step's progress, creating it pending.
func (p *Progress) Step(id string) *StepProgress {
	if s, ok := p.Steps[id]; ok {
		return s
	}
	s := &StepProgress{ID: id, State: StepPending, Ticked: map[int]bool{}}
	p.Steps[id] = s
	p.Order = append(p.Order, id)
	return s
}

// State is a step's state; pending for a step not seen yet.
func (p *Progress) State(id string) StepState {
	if s, ok := p.Steps[id]; ok {
		return s.State
	}
	return StepPending
}

// Passed reports whether the run has moved past a step.
func (p *Progress) Passed(id string) bool {
	s, ok := p.Steps[id]
	return ok && s.Passed
}

// InDoubt lists the actions whose intent was written and whose outcome was
// never recorded nor reconciled, in order.
func (p *Progress) InDoubt() []*ActionIntent {
	var out []*ActionIntent
	for _, a := range p.Actions {
		if a.Result == ActionInDoubt {
			out = append(out, a.Intent)
		}
	}
	return out
}

// Action returns an action by id.
func (p *Progress) Action(id int64) *ActionProgress { return p.actions[id] }

// Running reports whether the run has not ended.
func (p *Progress) Running() bool { return p.Ended == nil }

// RTO is the recovery time so far (or achieved, once stopped), and whether
// the clock has started.
func (p *Progress) RTO(now time.Time) (time.Duration, bool) {
	switch {
	case p.RTOStart.IsZero():
		return 0, false
	case p.RTOAchieved > 0:
		return p.RTOAchieved, true
	case !p.RTOStop.IsZero():
		return p.RTOStop.Sub(p.RTOStart), true
	case p.Ended != nil:
		return p.LastAt.Sub(p.RTOStart), true
	}
	return max(0, now.Sub(p.RTOStart)), true
}

// Apply folds one event into the projection.
func (p *Progress) Apply(ev Event) {
	m := ev.EventMeta()
	at := m.At
	p.LastSeq = m.Seq
	if _, handover := ev.(SessionEvent); !handover {
		// A takeover is written by the console that takes the run over,
		// when it does: it says nothing of when the run last moved.
		p.LastAt = at
	}
	p.Events++
	switch e := ev.(type) {
	case *RunStarted:
		p.Started = e
		p.Sessions = append(p.Sessions, Session{At: at, How: "started", Operator: e.Operator, Host: e.Host, SSHClient: e.SSHClient})
	case *RunResumed:
		p.Sessions = append(p.Sessions, Session{At: at, How: "resumed", Operator: e.Operator, Host: e.Host, SSHClient: e.SSHClient, Gap: e.Gap})
	case SessionEvent:
		p.Sessions = append(p.Sessions, e.Session())
	case *StepChanged:
		p.stepChanged(e, at)
	case *GateOpened:
		s := p.Step(e.Step)
		s.Gate = e
		p.Gate = &OpenGate{GateOpened: e, Ticked: map[int]bool{}, Approvals: append([]string(nil), s.Approvers...)}
		for i, ok := range s.Ticked {
			p.Gate.Ticked[i] = ok
		}
	case *ChecklistTicked:
		s := p.Step(e.Step)
		s.Ticked[e.Item] = true
		s.Ticks = append(s.Ticks, e)
		if p.Gate != nil && p.Gate.Step == e.Step {
			p.Gate.Ticked[e.Item] = true
		}
	case *GateDecided:
		p.gateDecided(e, at)
	case *FailureOpened:
		p.Failure = e
	case *FailureDecided:
		p.failureDecided(e, at)
	case *ActionIntent:
		a := &ActionProgress{Intent: e, At: at, Result: ActionInDoubt}
		p.actions[e.Action] = a
		p.Actions = append(p.Actions, a)
		p.ActionID = max(p.ActionID, e.Action)
	case *ActionOutcome:
		if a := p.actions[e.Action]; a != nil {
			a.Duration, a.Error, a.Result = e.Duration, e.Error, ActionOK
			if !e.OK {
				a.Result = ActionFailed
			}
			if a.Intent.Verb == "exec" {
				p.Step(e.Step).Exec = e
			}
		}
	case *ExecStarted:
		if a := p.actions[e.Action]; a != nil {
			a.Process = e
		}
	case *ActionReconciled:
		if a := p.actions[e.Action]; a != nil {
			a.Result, a.Error = ActionFoundNotDone, e.Note
			if e.Done {
				a.Result = ActionFoundDone
			}
		}
	case *NoteAdded:
		p.Notes = append(p.Notes, e)
	case *OutputCaptured:
		p.Output = append(p.Output, e)
	case *RTOStarted:
		if p.RTOStart.IsZero() {
			p.RTOStart, p.RTOStartStep = at, e.Step
		}
	case *RTOStopped:
		p.RTOStop, p.RTOStopStep, p.RTOAchieved = at, e.Step, e.Achieved
	case *RecoveryPoint:
		p.applyRecoveryPoint(e)
	case *SecretSupplied:
		p.applySecretSupplied(e)
	case *FileVerified:
		p.applyFileVerified(e)
	case *RunEnded:
		p.Ended = e
		p.Gate, p.Failure = nil, nil
	}
}

func (p *Progress) stepChanged(e *StepChanged, at time.Time) {
	s := p.Step(e.Step)
	s.State, s.Reason = e.State, e.Reason
	switch e.State {
	case StepWaiting, StepRunning:
		if s.Began.IsZero() {
			s.Began = at
		}
		s.Ended = time.Time{}
		if e.State == StepRunning {
			s.Runs++
			s.Exec = nil // a new attempt: its command has not run yet
		}
	case StepSucceeded, StepSkipped:
		s.Passed = true
		s.FailedWhy = ""
		s.Ended = at
		if s.Began.IsZero() {
			s.Began = at // skipped without starting: it took no time
		}
	case StepFailed:
		s.Failures++
		s.FailedWhy = e.Reason
		s.Ended = at
		if s.Began.IsZero() {
			s.Began = at
		}
	}
	if e.State.Final() && p.Gate != nil && p.Gate.Step == e.Step {
		p.Gate = nil
	}
}

func (p *Progress) gateDecided(e *GateDecided, at time.Time) {
	s := p.Step(e.Step)
	d := Decision{Step: e.Step, At: at, Operator: e.Operator, Approved: e.Approved, Typed: e.Typed, Waited: e.Waited, Seq: e.Seq}
	if s.Gate != nil {
		d.Gate = s.Gate.Gate
	}
	for _, t := range s.Ticks {
		d.Ticked = append(d.Ticked, fmt.Sprintf("%s (by %s at %s)", t.Text, t.Operator, t.At.UTC().Format(time.RFC3339)))
	}
	s.Ticks = nil
	p.Decisions = append(p.Decisions, d)
	if !e.Approved {
		s.Approvers = nil // a refused gate asks everyone again
	} else if !s.ApprovedBy(e.Operator) {
		s.Approvers = append(s.Approvers, e.Operator)
	}
	s.Approved = e.Approved && e.Complete()
	if p.Gate != nil && p.Gate.Step == e.Step {
		if e.Complete() {
			p.Gate = nil
		} else {
			p.Gate.Approvals = append([]string(nil), s.Approvers...)
		}
	}
}

func (p *Progress) failureDecided(e *FailureDecided, at time.Time) {
	s := p.Step(e.Step)
	s.FailedWhy = ""
	// The decision settles the step's command in doubt: a resume carries it
	// out (a retry re-runs the command) instead of asking again.
	for _, a := range p.Actions {
		if a.Result == ActionInDoubt && a.Intent.Step == e.Step && a.Intent.Verb == "exec" {
			a.Result = ActionDecided
		}
	}
	p.Decisions = append(p.Decisions, Decision{Step: e.Step, Gate: "after failure", At: at, Operator: e.Operator, Approved: e.Choice != ChoiceAbort, Choice: e.Choice, Seq: e.Seq})
	switch e.Choice {
	case ChoiceSkip:
		s.Passed = true
		p.Failures = append(p.Failures, fmt.Sprintf("%s (%s after failure)", e.Step, e.Choice))
		d := &p.Decisions[len(p.Decisions)-1]
		d.Typed = e.Reason
	case ChoiceContinue:
		s.Passed = true
		p.Tolerated = append(p.Tolerated, e.Step)
	case ChoiceMarkDone:
		s.Passed = true
	}
	if p.Failure != nil && p.Failure.Step == e.Step {
		p.Failure = nil
	}
}

// StepsInOrder returns the progress of every step of the runbook, in the
// runbook's order (pending for steps not reached).
func (p *Progress) StepsInOrder(rb *runbooks.Runbook) []*StepProgress {
	out := make([]*StepProgress, 0, len(rb.Steps))
	for _, st := range rb.Steps {
		if s, ok := p.Steps[st.ID]; ok {
			out = append(out, s)
			continue
		}
		out = append(out, &StepProgress{ID: st.ID, State: StepPending, Ticked: map[int]bool{}})
	}
	return out
}

// Clone returns a deep enough copy for another goroutine to read while the
// original keeps being applied: events are immutable once journaled, so
// they are shared.
func (p *Progress) Clone() *Progress {
	c := *p
	c.Steps = make(map[string]*StepProgress, len(p.Steps))
	for k, s := range p.Steps {
		cs := *s
		cs.Approvers = append([]string(nil), s.Approvers...)
		cs.Ticks = append([]*ChecklistTicked(nil), s.Ticks...)
		cs.Ticked = make(map[int]bool, len(s.Ticked))
		for i, v := range s.Ticked {
			cs.Ticked[i] = v
		}
		c.Steps[k] = &cs
	}
	c.Order = append([]string(nil), p.Order...)
	c.Sessions = append([]Session(nil), p.Sessions...)
	c.Decisions = append([]Decision(nil), p.Decisions...)
	c.actions = make(map[int64]*ActionProgress, len(p.actions))
	c.Actions = make([]*ActionProgress, len(p.Actions))
	for i, a := range p.Actions {
		ca := *a
		c.Actions[i] = &ca
		c.actions[a.Intent.Action] = &ca
	}
	c.Notes = append([]*NoteAdded(nil), p.Notes...)
	c.Output = append([]*OutputCaptured(nil), p.Output...)
	c.Secrets = append([]*SecretSupplied(nil), p.Secrets...)
	c.Failures = append([]string(nil), p.Failures...)
	c.Tolerated = append([]string(nil), p.Tolerated...)
	if p.Gate != nil {
		g := *p.Gate
		g.Ticked = make(map[int]bool, len(p.Gate.Ticked))
		for i, v := range p.Gate.Ticked {
			g.Ticked[i] = v
		}
		g.Approvals = append([]string(nil), p.Gate.Approvals...)
		c.Gate = &g
	}
	return &c
}

// sortedIntents orders intents by action id.
func sortedIntents(in []*ActionIntent) []*ActionIntent {
	sort.Slice(in, func(i, j int) bool { return in[i].Action < in[j].Action })
	return in
}
