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
type SessionReport = engine.Session

// Session implements engine.SessionEvent: a takeover hands the run to
// another console.
func (e *LeaseTakenOver) Session() engine.Session {
	return engine.Session{At: e.At, How: "took over", Operator: e.To.Operator, Host: e.To.Host, SSHClient: e.To.SSHClient, Reason: e.Reason}
}

// Report builds the report of one run, from the run's projection
// (engine.Progress: the same answer the engine and the consoles read), and
// verifies the trail.
func (s *Store) Report(ctx context.Context, runID int64) (*Report, error) {
	run, err := s.Run(ctx, runID)
	if err != nil {
		return nil, err
	}
	events, err := s.Events(ctx, runID)
	if err != nil {
		return nil, err
	}
	p, err := engine.ProgressOf(events)
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", runID, err)
	}
	r := reportOf(run, p)
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

func reportOf(run Run, p *engine.Progress) *Report {
	e := p.Started
	r := &Report{
		Run: run, Events: p.Events, Started: e,
		Runbook: e.Runbook, RunbookSHA: e.SHA256, Mode: e.Mode, Operator: e.Operator, Host: e.Host,
		SSHClient: e.SSHClient, Version: e.Version, Sites: e.Sites, Vars: e.Vars, AutoApprove: e.AutoApprove, RTOTarget: e.RTOTarget,
		RTOStartStep: p.RTOStartStep, RTOStopStep: p.RTOStopStep, RTOAchieved: p.RTOAchieved,
		Sessions: p.Sessions,
	}
	for _, id := range p.Order {
		sp := p.Steps[id]
		r.Steps = append(r.Steps, StepReport{ID: id, State: sp.State, Reason: sp.Reason, Started: sp.Began, Ended: sp.Ended, Duration: sp.Duration(sp.Ended), Attempts: sp.Runs})
	}
	for _, d := range p.Decisions {
		r.Gates = append(r.Gates, GateReport{Step: d.Step, Gate: d.Gate, At: d.At, Operator: d.Operator, Approved: d.Approved, Typed: d.Typed, Waited: d.Waited, Ticked: d.Ticked, Choice: string(d.Choice)})
	}
	for _, a := range p.Actions {
		in := a.Intent
		r.Actions = append(r.Actions, ActionReport{ID: in.Action, Step: in.Step, Verb: in.Verb, Site: in.Site, URI: in.URI, Domain: in.Domain, Detail: in.Detail, At: a.At, Duration: a.Duration, Result: string(a.Result), Error: a.Error})
	}
	for _, n := range p.Notes {
		r.Notes = append(r.Notes, NoteReport{At: n.At, Operator: n.Operator, Text: n.Text})
	}
	return r
}
