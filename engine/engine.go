package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// Options tune a run. The zero value is a real, interactive run.
type Options struct {
	RunID     int64
	Mode      string
	Operator  string
	Host      string
	SSHClient string
	Version   string
	// URIs are the URIs the sites were reached at, after any --site override.
	URIs map[string]string
	// AutoApprove answers every gate and ticks every checklist item itself;
	// it is recorded as the operator "auto-approve".
	AutoApprove bool
	// TimeScale divides the runbook's timeouts; only simulated sites, which
	// run faster by the same factor, should set it.
	TimeScale float64
	// Poll is how often a wait re-reads a domain's state.
	Poll time.Duration
	// CallTimeout bounds each single hypervisor call.
	CallTimeout time.Duration
	// Resume continues a run from its journal instead of starting one.
	Resume *Replay
	// Vars are the --var overrides the runbook was parsed with.
	Vars map[string]string
	// Preflight are the readiness findings the console made before the run
	// (warnings, overridden blockers); they are journaled first.
	Preflight []string
}

// AutoOperator is the operator recorded for decisions made by --auto-approve.
const AutoOperator = "auto-approve"

// Engine runs one runbook once. Create it with New, read Events, call Run.
type Engine struct {
	rb      *runbooks.Runbook
	sites   map[string]Hypervisor
	journal Journal
	opts    Options

	events chan Event
	inputs chan Input
	done   chan struct{}

	mu       sync.Mutex // serialises journaling so that seq order is publication order
	seq      int64
	states   map[string]StepState
	actionID int64

	// Run progress, owned by the Run goroutine (rebuilt by replay on resume).
	passed    map[string]bool // steps the run has moved past
	approved  map[string]bool // steps whose gate is answered yes
	ticked    map[string]map[int]bool
	approvers map[string]map[string]bool // operators who approved each gate
	attempts  map[string]int
	// resumeFailed holds, on resume, failed steps still waiting for a choice.
	resumeFailed map[string]string
	// execDoubt holds, on resume, commands whose outcome is unknown.
	execDoubt   map[string]*ActionIntent
	failures    []string // steps that failed and were skipped by the operator
	tolerated   []string // steps that failed with on_failure: continue
	started     time.Time
	rtoStart    time.Time
	rtoAchieved time.Duration
}

// New prepares a run. Every site of the runbook needs a Hypervisor.
func New(rb *runbooks.Runbook, sites map[string]Hypervisor, j Journal, opts Options) (*Engine, error) {
	for _, s := range rb.Sites {
		if sites[s.Name] == nil {
			return nil, fmt.Errorf("site %s (%s) has no connection", s.Name, s.URI)
		}
	}
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1
	}
	if opts.Poll <= 0 {
		opts.Poll = 500 * time.Millisecond
		if p := time.Duration(float64(opts.Poll) / opts.TimeScale); p < opts.Poll {
			opts.Poll = max(p, 5*time.Millisecond)
		}
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 30 * time.Second
	}
	if opts.Mode == "" {
		opts.Mode = "test"
	}
	if opts.URIs == nil {
		opts.URIs = map[string]string{}
	}
	for _, s := range rb.Sites {
		if opts.URIs[s.Name] == "" {
			opts.URIs[s.Name] = s.URI
		}
	}
	// What is recorded and shown never holds a password.
	redacted := map[string]string{}
	for k, v := range opts.URIs {
		redacted[k] = RedactURI(v)
	}
	opts.URIs = redacted
	e := &Engine{
		rb:        rb,
		sites:     sites,
		journal:   j,
		opts:      opts,
		events:    make(chan Event, 1024),
		inputs:    make(chan Input, 16),
		done:      make(chan struct{}),
		states:    map[string]StepState{},
		passed:    map[string]bool{},
		approved:  map[string]bool{},
		ticked:    map[string]map[int]bool{},
		approvers: map[string]map[string]bool{},
		attempts:  map[string]int{},
	}
	for _, st := range rb.Steps {
		e.states[st.ID] = StepPending
	}
	return e, nil
}

// Events delivers every event of the run, in order, each already journaled.
// It is closed when Run returns.
func (e *Engine) Events() <-chan Event { return e.events }

// Runbook returns the runbook being run.
func (e *Engine) Runbook() *runbooks.Runbook { return e.rb }

// Options returns the options the run was started with.
func (e *Engine) Options() Options { return e.opts }

// Run executes the runbook. It returns the outcome; a non-nil error means the
// run stopped without ending (interrupted, or the journal failed) and can be
// resumed from its journal.
func (e *Engine) Run(ctx context.Context) (Outcome, error) {
	defer close(e.events)
	defer close(e.done)
	if err := e.open(ctx); err != nil {
		return OutcomeRunning, err
	}
	outcome, reason := OutcomeSucceeded, ""
	for i := 0; i < len(e.rb.Steps); i++ {
		st := e.rb.Steps[i]
		if e.passed[st.ID] {
			continue
		}
		if ok, why := st.RunsIn(e.rb, e.opts.Mode); !ok {
			if err := e.setState(ctx, st, StepSkipped, "not run in "+e.opts.Mode+" mode: "+why); err != nil {
				return OutcomeRunning, err
			}
			e.passed[st.ID] = true
			// The recovery clock still starts and stops where the plan says.
			if err := e.rtoMark(ctx, st); err != nil {
				return OutcomeRunning, err
			}
			continue
		}
		err := e.attempt(ctx, st)
		if err == nil {
			e.passed[st.ID] = true
			continue
		}
		if errors.Is(err, errStopped) || ctx.Err() != nil {
			return OutcomeRunning, err
		}
		choice, derr := e.onFailure(ctx, st, err)
		if derr != nil {
			return OutcomeRunning, derr
		}
		switch choice {
		case ChoiceRetry:
			i--
			continue
		case ChoiceMarkDone:
			e.passed[st.ID] = true
			continue
		case ChoiceContinue:
			// The plan tolerates this step failing (on_failure: continue):
			// noted, but it does not make the run a failure.
			e.passed[st.ID] = true
			e.tolerated = append(e.tolerated, st.ID)
			continue
		case ChoiceSkip:
			e.passed[st.ID] = true
			e.failures = append(e.failures, fmt.Sprintf("%s (%s after failure)", st.ID, choice))
			continue
		}
		outcome, reason = OutcomeFailed, fmt.Sprintf("step %s failed: %v", st.ID, err)
		if errors.Is(err, ErrRefused) {
			outcome, reason = OutcomeAborted, fmt.Sprintf("step %s: %v", st.ID, err)
		}
		break
	}
	if outcome == OutcomeSucceeded && len(e.failures) > 0 {
		outcome, reason = OutcomeFailed, fmt.Sprintf("%d step(s) did not succeed: %s", len(e.failures), strings.Join(e.failures, ", "))
	}
	if outcome == OutcomeSucceeded && len(e.tolerated) > 0 {
		reason = "failed but tolerated by the runbook (on_failure: continue): " + strings.Join(e.tolerated, ", ")
	}
	end := &RunEnded{Outcome: outcome, Reason: reason, Duration: time.Since(e.started), RTOAchieved: e.rtoAchieved, RTOTarget: e.rb.RTO}
	if err := e.emit(ctx, end); err != nil {
		return OutcomeRunning, err
	}
	return outcome, nil
}

// attempt runs a step, unless a resumed run left it failed (the operator is
// asked again) or with a command in doubt (the operator decides).
func (e *Engine) attempt(ctx context.Context, st *runbooks.Step) error {
	if in, ok := e.execDoubt[st.ID]; ok {
		delete(e.execDoubt, st.ID)
		return &DoubtError{Intent: in}
	}
	if why, ok := e.resumeFailed[st.ID]; ok {
		delete(e.resumeFailed, st.ID)
		return errors.New(why)
	}
	return e.runStep(ctx, st)
}

// open starts the run, or picks it up from its journal.
func (e *Engine) open(ctx context.Context) error {
	var err error
	if e.opts.Resume == nil {
		e.started = time.Now()
		err = e.emit(ctx, e.runStarted())
	} else {
		err = e.resume(ctx)
	}
	for _, line := range e.opts.Preflight {
		if err == nil {
			err = e.logf(ctx, "", "warn", "%s", line)
		}
	}
	return err
}

func (e *Engine) runStarted() *RunStarted {
	return &RunStarted{
		Runbook:     e.rb.Name,
		Title:       e.rb.Title,
		File:        e.rb.File,
		SHA256:      e.rb.SHA256(),
		Source:      string(e.rb.Source),
		Mode:        e.opts.Mode,
		Operator:    e.opts.Operator,
		Host:        e.opts.Host,
		SSHClient:   e.opts.SSHClient,
		Version:     e.opts.Version,
		AutoApprove: e.opts.AutoApprove,
		Sites:       e.opts.URIs,
		Vars:        e.opts.Vars,
		RTOTarget:   e.rb.RTO,
		TimeScale:   e.opts.TimeScale,
	}
}

// errStopped marks a failure of the journal: the run stops where it is.
var errStopped = errors.New("run stopped")

// ErrRefused is returned for a step whose gate the operator refused.
var ErrRefused = errors.New("refused at the gate")

// emit journals an event, then publishes it. When the journal cannot take
// the event, nothing else happens: the caller must not act.
func (e *Engine) emit(ctx context.Context, ev Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := ev.EventMeta()
	m.RunID = e.opts.RunID
	m.Seq = e.seq + 1
	m.At = time.Now().UTC()
	if err := e.journal.Append(ctx, ev); err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // interrupted, not a broken trail
		}
		return fmt.Errorf("%w: audit trail cannot be written (%v); nothing further was done", errStopped, err)
	}
	e.seq++
	select {
	case e.events <- ev:
	case <-ctx.Done():
	}
	return nil
}

func (e *Engine) logf(ctx context.Context, step, level, format string, a ...any) error {
	return e.emit(ctx, &Logged{Step: step, Level: level, Message: fmt.Sprintf(format, a...)})
}

func (e *Engine) setState(ctx context.Context, st *runbooks.Step, to StepState, reason string) error {
	from := e.state(st.ID)
	if err := checkTransition(st.ID, from, to); err != nil {
		return err
	}
	if err := e.emit(ctx, &StepChanged{Step: st.ID, State: to, Reason: reason}); err != nil {
		return err
	}
	e.mu.Lock()
	e.states[st.ID] = to
	e.mu.Unlock()
	return nil
}

func (e *Engine) state(id string) StepState {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.states[id]
}

// runStep takes a step from wherever it is (pending, or mid-way on resume)
// to success, or returns why it failed.
func (e *Engine) runStep(ctx context.Context, st *runbooks.Step) error {
	needsGate := st.Gate != runbooks.GateNone || st.Kind == runbooks.KindManual
	if needsGate && !e.approved[st.ID] {
		if err := e.gate(ctx, st); err != nil {
			if errors.Is(err, ErrRefused) {
				delete(e.approvers, st.ID) // a refused gate asks everyone again
				if serr := e.setState(ctx, st, StepFailed, err.Error()); serr != nil {
					return serr
				}
			}
			return err
		}
		e.approved[st.ID] = true
	}
	if st.RTO == runbooks.RTOStart {
		if err := e.rtoMark(ctx, st); err != nil {
			return err
		}
	}
	if st.Kind != runbooks.KindManual {
		if e.state(st.ID) != StepRunning {
			if err := e.setState(ctx, st, StepRunning, ""); err != nil {
				return err
			}
		}
		if err := e.execute(ctx, st); err != nil {
			if errors.Is(err, errStopped) || ctx.Err() != nil {
				return err
			}
			if serr := e.setState(ctx, st, StepFailed, err.Error()); serr != nil {
				return serr
			}
			return err
		}
	}
	if err := e.setState(ctx, st, StepSucceeded, ""); err != nil {
		return err
	}
	if st.RTO == runbooks.RTOStop {
		return e.rtoMark(ctx, st)
	}
	return nil
}

// rtoMark starts or stops the recovery clock at a step that says so.
func (e *Engine) rtoMark(ctx context.Context, st *runbooks.Step) error {
	switch {
	case st.RTO == runbooks.RTOStart && e.rtoStart.IsZero():
		e.rtoStart = time.Now()
		return e.emit(ctx, &RTOStarted{Step: st.ID})
	case st.RTO == runbooks.RTOStop && !e.rtoStart.IsZero() && e.rtoAchieved == 0:
		e.rtoAchieved = time.Since(e.rtoStart)
		return e.emit(ctx, &RTOStopped{Step: st.ID, Achieved: e.rtoAchieved, Target: e.rb.RTO})
	}
	return nil
}

// scaled converts a runbook duration into wall time for this run.
func (e *Engine) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / e.opts.TimeScale)
}
