package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// RunResumed records that a console picked a run up from its journal.
type RunResumed struct {
	Meta
	Operator  string        `json:"operator"`
	Host      string        `json:"host,omitempty"`
	SSHClient string        `json:"ssh_client,omitempty"`
	PID       int           `json:"pid"`
	Version   string        `json:"repli_version"`
	Gap       time.Duration `json:"gap_ns"`
	InDoubt   int           `json:"in_doubt"`
}

// ActionReconciled closes an action that was in doubt (its intent was
// written, its outcome never was): the live state was read instead of
// repeating the action blindly.
type ActionReconciled struct {
	Meta
	Action   int64       `json:"action"`
	Step     string      `json:"step"`
	Site     string      `json:"site"`
	Domain   string      `json:"domain"`
	Verb     string      `json:"verb"`
	Observed DomainState `json:"observed,omitempty"`
	Done     bool        `json:"done"`
	Note     string      `json:"note"`
}

// Kind implements Event.
func (*RunResumed) Kind() string { return "run.resumed" }

// Kind implements Event.
func (*ActionReconciled) Kind() string { return "action.reconciled" }

func init() {
	eventTypes["run.resumed"] = func() Event { return &RunResumed{} }
	eventTypes["action.reconciled"] = func() Event { return &ActionReconciled{} }
}

// ErrRunEnded is returned when asked to resume a run that already ended.
var ErrRunEnded = errors.New("the run has already ended")

// Replay is a run's progress rebuilt from its journal.
type Replay struct {
	Started     *RunStarted
	LastSeq     int64
	LastAt      time.Time
	States      map[string]StepState
	Passed      map[string]bool
	Approved    map[string]bool
	Ticked      map[string]map[int]bool
	Approvers   map[string]map[string]bool
	Attempts    map[string]int
	Failures    []string
	Tolerated   []string
	FailedWhy   map[string]string // failed steps waiting for a decision
	InDoubt     []*ActionIntent
	ActionID    int64
	RTOStart    time.Time
	RTOAchieved time.Duration
	Ended       *RunEnded
}

// ReplayEvents rebuilds a run's progress from its events, in order.
func ReplayEvents(events []Event) (*Replay, error) {
	if len(events) == 0 {
		return nil, errors.New("the run has no events")
	}
	started, ok := events[0].(*RunStarted)
	if !ok {
		return nil, fmt.Errorf("the run's first event is %s, not run.started", events[0].Kind())
	}
	r := &Replay{
		Started: started, States: map[string]StepState{}, Passed: map[string]bool{}, Approved: map[string]bool{},
		Ticked: map[string]map[int]bool{}, Attempts: map[string]int{}, FailedWhy: map[string]string{},
		Approvers: map[string]map[string]bool{},
	}
	open := map[int64]*ActionIntent{}
	for _, ev := range events {
		m := ev.EventMeta()
		r.LastSeq, r.LastAt = m.Seq, m.At
		switch e := ev.(type) {
		case *StepChanged:
			r.States[e.Step] = e.State
			switch e.State {
			case StepSucceeded, StepSkipped:
				r.Passed[e.Step] = true
				delete(r.FailedWhy, e.Step)
			case StepFailed:
				r.Attempts[e.Step]++
				r.FailedWhy[e.Step] = e.Reason
			}
		case *GateDecided:
			r.Approved[e.Step] = e.Approved && e.Complete()
			switch {
			case !e.Approved:
				delete(r.Approvers, e.Step)
			case r.Approvers[e.Step] == nil:
				r.Approvers[e.Step] = map[string]bool{e.Operator: true}
			default:
				r.Approvers[e.Step][e.Operator] = true
			}
		case *ChecklistTicked:
			if r.Ticked[e.Step] == nil {
				r.Ticked[e.Step] = map[int]bool{}
			}
			r.Ticked[e.Step][e.Item] = true
		case *FailureDecided:
			delete(r.FailedWhy, e.Step)
			switch e.Choice {
			case ChoiceSkip:
				r.Passed[e.Step] = true
				r.Failures = append(r.Failures, fmt.Sprintf("%s (%s after failure)", e.Step, e.Choice))
			case ChoiceContinue:
				r.Passed[e.Step] = true
				r.Tolerated = append(r.Tolerated, e.Step)
			case ChoiceMarkDone:
				r.Passed[e.Step] = true
			}
		case *ActionIntent:
			open[e.Action] = e
			r.ActionID = max(r.ActionID, e.Action)
		case *ActionOutcome:
			delete(open, e.Action)
		case *ActionReconciled:
			delete(open, e.Action)
		case *RTOStarted:
			r.RTOStart = m.At
		case *RTOStopped:
			r.RTOAchieved = e.Achieved
		case *RunEnded:
			r.Ended = e
		}
	}
	for _, in := range open {
		r.InDoubt = append(r.InDoubt, in)
	}
	sort.Slice(r.InDoubt, func(i, j int) bool { return r.InDoubt[i].Action < r.InDoubt[j].Action })
	return r, nil
}

// resume restores the engine from the replay, records who resumed and
// reconciles in-doubt actions against live state.
func (e *Engine) resume(ctx context.Context) error {
	r := e.opts.Resume
	if r.Ended != nil {
		return fmt.Errorf("%w (%s)", ErrRunEnded, r.Ended.Outcome)
	}
	e.seq = r.LastSeq
	e.actionID = r.ActionID
	e.started = r.Started.At
	e.rtoStart, e.rtoAchieved = r.RTOStart, r.RTOAchieved
	e.failures = append([]string(nil), r.Failures...)
	e.tolerated = append([]string(nil), r.Tolerated...)
	e.resumeFailed = r.FailedWhy
	for k, v := range r.States {
		e.states[k] = v
	}
	for k, v := range r.Passed {
		e.passed[k] = v
	}
	for k, v := range r.Approved {
		e.approved[k] = v
	}
	for k, v := range r.Ticked {
		e.ticked[k] = v
	}
	for k, v := range r.Attempts {
		e.attempts[k] = v
	}
	for k, v := range r.Approvers {
		e.approvers[k] = v
	}
	if err := e.emit(ctx, &RunResumed{
		Operator: e.opts.Operator, Host: e.opts.Host, SSHClient: e.opts.SSHClient, PID: os.Getpid(),
		Version: e.opts.Version, Gap: time.Since(r.LastAt), InDoubt: len(r.InDoubt),
	}); err != nil {
		return err
	}
	e.execDoubt = map[string]*ActionIntent{}
	for _, in := range r.InDoubt {
		if in.Verb == "exec" {
			// A command's effect cannot be read back: never re-run it blindly.
			e.execDoubt[in.Step] = in
			continue
		}
		if err := e.reconcile(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

// reconcile reads the live state behind an in-doubt action. The step is run
// again afterwards, and every step kind checks live state before acting, so
// an action that did complete is not repeated.
func (e *Engine) reconcile(ctx context.Context, in *ActionIntent) error {
	rec := &ActionReconciled{Action: in.Action, Step: in.Step, Site: in.Site, Domain: in.Domain, Verb: in.Verb}
	want := map[string]DomainState{"shutdown": StateShutoff, "destroy": StateShutoff, "start": StateRunning, "suspend": StatePaused, "resume": StateRunning}[in.Verb]
	if _, ok := e.sites[in.Site]; ok && in.Domain != "" {
		s, err := e.domainState(ctx, in.Site, in.Domain)
		switch {
		case err != nil:
			rec.Note = "could not read the live state: " + err.Error()
		case want != "":
			rec.Observed, rec.Done = s, s == want
			rec.Note = fmt.Sprintf("found %s/%s %s", in.Site, in.Domain, s)
		default:
			rec.Observed = s
			rec.Note = "the step checks again before acting"
		}
	}
	return e.emit(ctx, rec)
}

// LoadReplay is a convenience for consoles: the runbook the run was started
// with (from its journal, not from disk, so it cannot change under the run)
// and its replayed progress.
func LoadReplay(events []Event) (*runbooks.Runbook, *Replay, error) {
	r, err := ReplayEvents(events)
	if err != nil {
		return nil, nil, err
	}
	rb, diags := runbooks.ParseWith(r.Started.File, []byte(r.Started.Source), r.Started.Vars)
	if rb == nil {
		return nil, nil, fmt.Errorf("the runbook recorded with the run no longer parses with this repli:\n%v", diags)
	}
	if rb.SHA256() != r.Started.SHA256 {
		return nil, nil, errors.New("the runbook recorded with the run does not match its recorded SHA-256")
	}
	return rb, r, nil
}
