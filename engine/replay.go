package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
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

// resume picks the run up where its recorded events leave it, records who
// resumed and reconciles in-doubt actions against live state.
func (e *Engine) resume(ctx context.Context) error {
	r := e.opts.Resume
	if r.Ended != nil {
		return fmt.Errorf("%w (%s)", ErrRunEnded, r.Ended.Outcome)
	}
	e.mu.Lock()
	e.prog = r.Clone()
	e.seq = r.LastSeq
	e.actionID = r.ActionID
	e.mu.Unlock()
	e.started = r.Started.At
	e.resumeFailed = map[string]string{}
	for id, s := range r.Steps {
		if s.State == StepFailed && s.FailedWhy != "" && !s.Passed {
			e.resumeFailed[id] = s.FailedWhy
		}
	}
	inDoubt := sortedIntents(r.InDoubt())
	if err := e.emit(ctx, &RunResumed{
		Operator: e.opts.Operator, Host: e.opts.Host, SSHClient: e.opts.SSHClient, PID: os.Getpid(),
		Version: e.opts.Version, Gap: time.Since(r.LastAt), InDoubt: len(inDoubt),
	}); err != nil {
		return err
	}
	e.execDoubt = map[string]*ActionIntent{}
	e.execAlive = map[string]*ExecStarted{}
	for _, in := range inDoubt {
		if in.Verb == "exec" {
			if a := r.Action(in.Action); a != nil && a.Process != nil && r.Started.Host == e.opts.Host && ProcessAlive(a.Process.PID, a.Process.StartTicks) {
				// The first copy may still be running: never start a
				// second one beside it.
				if err := e.logf(ctx, in.Step, "warn", "its command may still be running: pid %d, started %s; wait for it to end, or stop it, before choosing", a.Process.PID, a.Process.At.Local().Format("15:04:05")); err != nil {
					return err
				}
				e.execAlive[in.Step] = a.Process
			}
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
	want, _ := verbWant(in.Verb)
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

// LoadRun is what a console needs to pick a run up or show it: the runbook
// the run was started with (from its journal, not from disk, so it cannot
// change under the run) and where the run stands.
func LoadRun(events []Event) (*runbooks.Runbook, *Progress, error) {
	p, err := ProgressOf(events)
	if err != nil {
		return nil, nil, err
	}
	rb, err := p.Runbook()
	if err != nil {
		return nil, nil, err
	}
	return rb, p, nil
}

// Runbook parses the runbook recorded with the run.
func (p *Progress) Runbook() (*runbooks.Runbook, error) {
	if p.Started == nil {
		return nil, errors.New("the run has no run.started event")
	}
	rb, diags := runbooks.ParseWithSecrets(p.Started.File, []byte(p.Started.Source), p.Started.Vars, p.Started.SecretVars)
	if rb == nil {
		return nil, fmt.Errorf("the runbook recorded with the run no longer parses with this repli:\n%v", diags)
	}
	if rb.SHA256() != p.Started.SHA256 {
		return nil, errors.New("the runbook recorded with the run does not match its recorded SHA-256")
	}
	return rb, nil
}
