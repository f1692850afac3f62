package engine

import (
	"context"
	"errors"
	"fmt"
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
	started  time.Time
	rtoStart time.Time
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
	e := &Engine{
		rb:      rb,
		sites:   sites,
		journal: j,
		opts:    opts,
		events:  make(chan Event, 1024),
		inputs:  make(chan Input, 16),
		done:    make(chan struct{}),
		states:  map[string]StepState{},
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
	e.started = time.Now()
	if err := e.emit(ctx, e.runStarted()); err != nil {
		return OutcomeRunning, err
	}
	outcome, reason := OutcomeSucceeded, ""
	for _, st := range e.rb.Steps {
		err := e.runStep(ctx, st)
		if err == nil {
			continue
		}
		if errors.Is(err, errStopped) || ctx.Err() != nil {
			return OutcomeRunning, err
		}
		outcome, reason = OutcomeFailed, fmt.Sprintf("step %s failed: %v", st.ID, err)
		if errors.Is(err, ErrRefused) {
			outcome, reason = OutcomeAborted, fmt.Sprintf("step %s: %v", st.ID, err)
		}
		break
	}
	end := &RunEnded{Outcome: outcome, Reason: reason, Duration: time.Since(e.started), RTOTarget: e.rb.RTO}
	if !e.rtoStart.IsZero() {
		end.RTOAchieved = e.rtoAchieved()
	}
	if err := e.emit(ctx, end); err != nil {
		return OutcomeRunning, err
	}
	return outcome, nil
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

func (e *Engine) rtoAchieved() time.Duration { return time.Since(e.rtoStart) }

func (e *Engine) runStep(ctx context.Context, st *runbooks.Step) error {
	if st.Gate != runbooks.GateNone || st.Kind == runbooks.KindManual {
		if err := e.gate(ctx, st); err != nil {
			if errors.Is(err, ErrRefused) {
				if serr := e.setState(ctx, st, StepFailed, err.Error()); serr != nil {
					return serr
				}
			}
			return err
		}
	}
	if st.RTO == runbooks.RTOStart {
		e.rtoStart = time.Now()
		if err := e.emit(ctx, &RTOStarted{Step: st.ID}); err != nil {
			return err
		}
	}
	if st.Kind != runbooks.KindManual {
		if err := e.setState(ctx, st, StepRunning, ""); err != nil {
			return err
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
	if st.RTO == runbooks.RTOStop && !e.rtoStart.IsZero() {
		return e.emit(ctx, &RTOStopped{Step: st.ID, Achieved: e.rtoAchieved(), Target: e.rb.RTO})
	}
	return nil
}

func (e *Engine) execute(ctx context.Context, st *runbooks.Step) error {
	switch st.Kind {
	case runbooks.KindCheck:
		return e.check(ctx, st)
	case runbooks.KindShutdown:
		return e.shutdown(ctx, st)
	case runbooks.KindStart:
		return e.start(ctx, st)
	}
	return fmt.Errorf("step kind %q is not supported by this engine", st.Kind)
}

// scaled converts a runbook duration into wall time for this run.
func (e *Engine) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / e.opts.TimeScale)
}
