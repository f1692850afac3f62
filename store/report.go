package store

import (
	"context"
	"fmt"
	"time"

	"github.com/repli-dr/repli/engine"
)

// Report is everything an auditor asks about one run, built from its
// events: who did what, when, how long each step took, and whether the trail
// verifies.
type Report struct {
	Run          Run                `json:"run"`
	Started      *engine.RunStarted `json:"-"`
	Runbook      string             `json:"runbook"`
	RunbookSHA   string             `json:"runbook_sha256"`
	Mode         string             `json:"mode"`
	Operator     string             `json:"operator"`
	Host         string             `json:"host"`
	SSHClient    string             `json:"ssh_client,omitempty"`
	Version      string             `json:"repli_version"`
	Sites        map[string]string  `json:"sites"`
	Vars         map[string]string  `json:"vars,omitempty"`
	AutoApprove  bool               `json:"auto_approve"`
	RTOTarget    time.Duration      `json:"-"`
	RTOAchieved  time.Duration      `json:"-"`
	RTOStartStep string             `json:"rto_start_step,omitempty"`
	RTOStopStep  string             `json:"rto_stop_step,omitempty"`
	Steps        []StepReport       `json:"steps"`
	Gates        []GateReport       `json:"gates"`
	Actions      []ActionReport     `json:"actions"`
	Notes        []NoteReport       `json:"notes,omitempty"`
	Sessions     []SessionReport    `json:"sessions"`
	Events       int                `json:"events"`
	Verification Verification       `json:"verification"`
	Anchor       string             `json:"anchor,omitempty"`
}

// StepReport is one step's life in the run.
type StepReport struct {
	ID       string           `json:"id"`
	State    engine.StepState `json:"state"`
	Reason   string           `json:"reason,omitempty"`
	Started  time.Time        `json:"started,omitempty"`
	Ended    time.Time        `json:"ended,omitempty"`
	Duration time.Duration    `json:"duration_ns"`
	Attempts int              `json:"attempts"`
}

// GateReport is one decision at a gate.
type GateReport struct {
	Step     string        `json:"step"`
	Gate     string        `json:"gate"`
	At       time.Time     `json:"at"`
	Operator string        `json:"operator"`
	Approved bool          `json:"approved"`
	Typed    string        `json:"typed,omitempty"`
	Waited   time.Duration `json:"waited_ns"`
	Ticked   []string      `json:"ticked,omitempty"`
	Choice   string        `json:"choice,omitempty"` // after a failure
}

// ActionReport is one action on a hypervisor or one command.
type ActionReport struct {
	ID       int64         `json:"id"`
	Step     string        `json:"step"`
	Verb     string        `json:"verb"`
	Site     string        `json:"site"`
	URI      string        `json:"uri,omitempty"`
	Domain   string        `json:"domain,omitempty"`
	Detail   string        `json:"detail,omitempty"`
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration_ns"`
	Result   string        `json:"result"` // ok, failed, in doubt, reconciled done/not done
	Error    string        `json:"error,omitempty"`
}

// NoteReport is an operator's note.
type NoteReport struct {
	At       time.Time `json:"at"`
	Operator string    `json:"operator"`
	Text     string    `json:"text"`
}

// SessionReport is one console that drove the run: the first, and each
// resume or takeover.
type SessionReport struct {
	At        time.Time     `json:"at"`
	How       string        `json:"how"` // started, resumed, took over
	Operator  string        `json:"operator"`
	Host      string        `json:"host,omitempty"`
	SSHClient string        `json:"ssh_client,omitempty"`
	Gap       time.Duration `json:"gap_ns,omitempty"`
	Reason    string        `json:"reason,omitempty"`
}

// Report builds the report of one run and verifies the whole trail.
func (s *Store) Report(ctx context.Context, runID int64) (*Report, error) {
	run, err := s.Run(ctx, runID)
	if err != nil {
		return nil, err
	}
	events, err := s.Events(ctx, runID)
	if err != nil {
		return nil, err
	}
	r := &Report{Run: run, Events: len(events)}
	steps := map[string]*StepReport{}
	var order []string
	step := func(id string) *StepReport {
		if sr, ok := steps[id]; ok {
			return sr
		}
		sr := &StepReport{ID: id}
		steps[id] = sr
		order = append(order, id)
		return sr
	}
	gateKind := map[string]string{}
	ticks := map[string][]string{}
	actions := map[int64]*ActionReport{}
	for _, ev := range events {
		at := ev.EventMeta().At
		switch e := ev.(type) {
		case *engine.RunStarted:
			r.Started = e
			r.Runbook, r.RunbookSHA, r.Mode, r.Operator, r.Host = e.Runbook, e.SHA256, e.Mode, e.Operator, e.Host
			r.SSHClient, r.Version, r.Sites, r.Vars, r.AutoApprove, r.RTOTarget = e.SSHClient, e.Version, e.Sites, e.Vars, e.AutoApprove, e.RTOTarget
			r.Sessions = append(r.Sessions, SessionReport{At: at, How: "started", Operator: e.Operator, Host: e.Host, SSHClient: e.SSHClient})
		case *engine.RunResumed:
			r.Sessions = append(r.Sessions, SessionReport{At: at, How: "resumed", Operator: e.Operator, Host: e.Host, SSHClient: e.SSHClient, Gap: e.Gap})
		case *LeaseTakenOver:
			r.Sessions = append(r.Sessions, SessionReport{At: at, How: "took over", Operator: e.To.Operator, Host: e.To.Host, SSHClient: e.To.SSHClient, Reason: e.Reason})
		case *engine.StepChanged:
			sr := step(e.Step)
			sr.State, sr.Reason = e.State, e.Reason
			switch e.State {
			case engine.StepWaiting, engine.StepRunning:
				if sr.Started.IsZero() {
					sr.Started = at
				}
				if e.State == engine.StepRunning {
					sr.Attempts++
				}
			case engine.StepSucceeded, engine.StepFailed, engine.StepSkipped:
				sr.Ended = at
				if !sr.Started.IsZero() {
					sr.Duration = at.Sub(sr.Started)
				}
			}
		case *engine.GateOpened:
			gateKind[e.Step] = e.Gate
		case *engine.ChecklistTicked:
			ticks[e.Step] = append(ticks[e.Step], fmt.Sprintf("%s (by %s at %s)", e.Text, e.Operator, at.UTC().Format(time.RFC3339)))
		case *engine.GateDecided:
			r.Gates = append(r.Gates, GateReport{Step: e.Step, Gate: gateKind[e.Step], At: at, Operator: e.Operator, Approved: e.Approved, Typed: e.Typed, Waited: e.Waited, Ticked: ticks[e.Step]})
			ticks[e.Step] = nil
		case *engine.FailureDecided:
			r.Gates = append(r.Gates, GateReport{Step: e.Step, Gate: "after failure", At: at, Operator: e.Operator, Approved: e.Choice != engine.ChoiceAbort, Choice: string(e.Choice)})
		case *engine.ActionIntent:
			a := &ActionReport{ID: e.Action, Step: e.Step, Verb: e.Verb, Site: e.Site, URI: e.URI, Domain: e.Domain, Detail: e.Detail, At: at, Result: "in doubt"}
			actions[e.Action] = a
			r.Actions = append(r.Actions, *a)
		case *engine.ActionOutcome:
			if a := actions[e.Action]; a != nil {
				a.Duration, a.Result, a.Error = e.Duration, "ok", e.Error
				if !e.OK {
					a.Result = "failed"
				}
			}
		case *engine.ActionReconciled:
			if a := actions[e.Action]; a != nil {
				a.Result = "in doubt, found not done on resume"
				if e.Done {
					a.Result = "in doubt, found done on resume"
				}
				a.Error = e.Note
			}
		case *engine.NoteAdded:
			r.Notes = append(r.Notes, NoteReport{At: at, Operator: e.Operator, Text: e.Text})
		case *engine.RTOStarted:
			r.RTOStartStep = e.Step
		case *engine.RTOStopped:
			r.RTOStopStep, r.RTOAchieved = e.Step, e.Achieved
		}
	}
	// The action list was appended as values; refresh them from the map.
	for i := range r.Actions {
		r.Actions[i] = *actions[r.Actions[i].ID]
	}
	for _, id := range order {
		r.Steps = append(r.Steps, *steps[id])
	}
	v, err := s.Verify(ctx, runID)
	if err != nil {
		return nil, err
	}
	r.Verification = v
	if run.EndEventID != 0 {
		r.Anchor = fmt.Sprintf("%d:%s", run.EndEventID, run.EndHash)
	}
	return r, nil
}
