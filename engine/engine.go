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
	// OutcomeBudget is how long an action's outcome is tried again while
	// the trail cannot take it (30s by default), before the run stops.
	OutcomeBudget time.Duration
	// Resume continues a run from its journal instead of starting one: the
	// run's progress, as its recorded events give it.
	Resume *Progress
	// Vars are the --var overrides the runbook was parsed with; SecretVars
	// the --secret-var ones (name → file, never the value).
	Vars       map[string]string
	SecretVars map[string]string
	// Preflight are the readiness findings the console made before the run
	// (warnings, overridden blockers); they are journaled first.
	Preflight []string
	// AfterDecision, if set, is called once a gate decision is journaled,
	// before the engine acts on it (the trail's replica catches up there).
	// A non-empty answer is journaled as a warning for the step.
	AfterDecision func(ctx context.Context, d *GateDecided) string
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

	// mu serialises journaling, so that seq order is publication order, and
	// guards prog, which every journaled event is applied to.
	mu       sync.Mutex
	seq      int64
	actionID int64
	prog     *Progress
	closed   bool // the run is over for emit: nothing more is numbered
	// Group commit (see emit): the events numbered and not yet committed,
	// in seq order; whether an emitter is committing (the leader); whether
	// a run.ended is numbered (nothing may follow it); idle is signalled
	// when the leader is done, for finish.
	queue      []*pendingEvent
	committing bool
	ending     bool
	idle       *sync.Cond
	lingering  bool // a commit of the outcomes queued by emitLater is due
	lingerFor  time.Duration
	broken     error // an outcome the trail never took: nothing may follow it

	// Questions a resumed run asks once before running a step again: failed
	// steps still waiting for a choice, and commands whose outcome is
	// unknown. Owned by the Run goroutine.
	resumeFailed map[string]string
	execDoubt    map[string]*ActionIntent
	execAlive    map[string]*ExecStarted // in-doubt commands whose process still runs
	// approvedTargets are the domains a glob or "all" matched at the
	// step's gate: what the operator approved, and what the step acts on.
	approvedTargets map[string][]string
	started         time.Time
	// hosts are the slots of max_per_host (hostcap.go).
	hosts hostSlots
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
	if opts.OutcomeBudget <= 0 {
		opts.OutcomeBudget = 30 * time.Second
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
		rb:      rb,
		sites:   sites,
		journal: j,
		opts:    opts,
		events:  make(chan Event, 1024),
		inputs:  make(chan Input, 16),
		done:    make(chan struct{}),
		prog:    NewProgress(),
	}
	e.idle = sync.NewCond(&e.mu)
	e.lingerFor = lingerFor
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
	defer e.finish()
	if err := e.open(ctx); err != nil {
		return OutcomeRunning, err
	}
	outcome, reason := OutcomeSucceeded, ""
	for i := 0; i < len(e.rb.Steps); i++ {
		st := e.rb.Steps[i]
		if e.passed(st.ID) {
			continue
		}
		if ok, why := st.RunsIn(e.rb, e.opts.Mode); !ok {
			if err := e.setState(ctx, st, StepSkipped, "not run in "+e.opts.Mode+" mode: "+why); err != nil {
				return OutcomeRunning, err
			}
			// The recovery clock still starts and stops where the plan says.
			if err := e.rtoMark(ctx, st); err != nil {
				return OutcomeRunning, err
			}
			continue
		}
		err := e.attempt(ctx, st)
		if err == nil {
			continue
		}
		if errors.Is(err, errStopped) || ctx.Err() != nil {
			return OutcomeRunning, err
		}
		// What follows a failure is journaled (failure.decided, and the
		// step's state), so the projection knows whether the run moved past
		// the step: retry runs it again, abort ends the run.
		choice, derr := e.onFailure(ctx, st, err)
		if derr != nil {
			return OutcomeRunning, derr
		}
		if choice == ChoiceRetry {
			i--
			continue
		}
		if choice != ChoiceAbort {
			continue
		}
		outcome, reason = OutcomeFailed, fmt.Sprintf("step %s failed: %v", st.ID, err)
		if errors.Is(err, ErrRefused) {
			outcome, reason = OutcomeAborted, fmt.Sprintf("step %s: %v", st.ID, err)
		}
		break
	}
	e.mu.Lock()
	failures, tolerated, achieved := e.prog.Failures, e.prog.Tolerated, e.prog.RTOAchieved
	e.mu.Unlock()
	if outcome == OutcomeSucceeded && len(failures) > 0 {
		outcome, reason = OutcomeFailed, fmt.Sprintf("%d step(s) did not succeed: %s", len(failures), strings.Join(failures, ", "))
	}
	if outcome == OutcomeSucceeded && len(tolerated) > 0 {
		reason = "failed but tolerated by the runbook (on_failure: continue): " + strings.Join(tolerated, ", ")
	}
	end := e.withRPO(&RunEnded{Outcome: outcome, Reason: reason, Duration: time.Since(e.started), RTOAchieved: achieved, RTOTarget: e.rb.RTO})
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
		return &DoubtError{Intent: in, Running: e.execAlive[st.ID]}
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
	ev := &RunStarted{
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
		Vars:        runbooks.RedactVars(e.opts.Vars),
		SecretVars:  e.opts.SecretVars,
		RTOTarget:   e.rb.RTO,
		TimeScale:   e.opts.TimeScale,
	}
	if e.rb.ReverseOf != nil {
		ev.ReverseOf, ev.ReverseOfSHA256 = e.rb.ReverseOf.Name, e.rb.ReverseOf.SHA256
	}
	return ev
}

// errStopped marks a failure of the journal: the run stops where it is.
var errStopped = errors.New("run stopped")

// ErrRefused is returned for a step whose gate the operator refused.
var ErrRefused = errors.New("refused at the gate")

// finish ends publication. Only emit sends on events, and it does so under
// mu while it commits; finish refuses new events, waits for the commit
// under way, and closes events under mu, so closing can never race a send.
func (e *Engine) finish() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.closed = true
	for {
		for e.committing {
			e.idle.Wait()
		}
		if len(e.queue) == 0 {
			break
		}
		// Outcomes emitLater queued and no commit took yet.
		e.committing = true
		e.commitQueued()
	}
	close(e.events)
	close(e.done)
}

// emit journals an event, applies it to the run's progress, then publishes
// it. When the journal cannot take the event, nothing else happens: the
// caller must not act. Events emitted at once (the actions of a parallel
// step) share commits: see commitQueued.
func (e *Engine) emit(ctx context.Context, ev Event) error {
	e.mu.Lock()
	if err := e.refused(); err != nil {
		e.mu.Unlock()
		return err
	}
	p := e.enqueue(ctx, ctx, ev)
	if e.committing {
		// Another emitter is committing: this event goes in the next
		// commit, made by whoever is first in line when that one ends.
		e.mu.Unlock()
		<-p.wake
		e.mu.Lock()
		if p.settled {
			e.mu.Unlock()
			return p.err
		}
	}
	e.committing = true
	e.commitQueued()
	e.mu.Unlock()
	return p.err
}

// Progress returns a copy of where the run stands now.
func (e *Engine) Progress() *Progress {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.prog.Clone()
}

// step returns a copy of one step's progress.
func (e *Engine) step(id string) StepProgress {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.prog.Steps[id]
	if !ok {
		return StepProgress{ID: id, State: StepPending}
	}
	s := *p
	s.Approvers = append([]string(nil), p.Approvers...)
	s.Ticked = make(map[int]bool, len(p.Ticked))
	for i, v := range p.Ticked {
		s.Ticked[i] = v
	}
	return s
}

func (e *Engine) passed(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.prog.Passed(id)
}

func (e *Engine) logf(ctx context.Context, step, level, format string, a ...any) error {
	return e.emit(ctx, &Logged{Step: step, Level: level, Message: fmt.Sprintf(format, a...)})
}

func (e *Engine) setState(ctx context.Context, st *runbooks.Step, to StepState, reason string) error {
	from := e.state(st.ID)
	if err := checkTransition(st.ID, from, to); err != nil {
		return err
	}
	return e.emit(ctx, &StepChanged{Step: st.ID, State: to, Reason: reason})
}

func (e *Engine) state(id string) StepState {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.prog.State(id)
}

// runStep takes a step from wherever it is (pending, or mid-way on resume)
// to success, or returns why it failed.
func (e *Engine) runStep(ctx context.Context, st *runbooks.Step) error {
	needsGate := st.Gate != runbooks.GateNone || st.Kind == runbooks.KindManual
	if needsGate && !e.step(st.ID).Approved {
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
		if err := e.executeOnce(ctx, st); err != nil {
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

// executeOnce runs the step's action, unless this attempt's command already
// has a recorded outcome: the console stopped after the command ended and
// before the step was marked. A recorded outcome is final; the command is
// never run a second time for it.
func (e *Engine) executeOnce(ctx context.Context, st *runbooks.Step) error {
	if x := e.step(st.ID).Exec; x != nil && st.Kind == runbooks.KindExec {
		if !x.OK {
			return fmt.Errorf("%s (recorded before the console stopped; not run again)", x.Error)
		}
		return e.logf(ctx, st.ID, "info", "its command had ended with success before the console stopped (recorded); not run again")
	}
	return e.execute(ctx, st)
}

// rtoMark starts or stops the recovery clock at a step that says so.
func (e *Engine) rtoMark(ctx context.Context, st *runbooks.Step) error {
	e.mu.Lock()
	start, achieved := e.prog.RTOStart, e.prog.RTOAchieved
	e.mu.Unlock()
	switch {
	case st.RTO == runbooks.RTOStart && start.IsZero():
		return e.emit(ctx, &RTOStarted{Step: st.ID})
	case st.RTO == runbooks.RTOStop && !start.IsZero() && achieved == 0:
		return e.emit(ctx, &RTOStopped{Step: st.ID, Achieved: max(time.Since(start), time.Nanosecond), Target: e.rb.RTO})
	}
	return nil
}

// scaled converts a runbook duration into wall time for this run.
func (e *Engine) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / e.opts.TimeScale)
}
