package engine_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/runbooks"
)

// memJournal keeps events in memory; failAt makes the Nth append fail.
type memJournal struct {
	mu     sync.Mutex
	events []engine.Event
	failAt int
	failOn string
	// failTimes, when set, limits failOn to that many failures (a trail
	// busy for a while, then free again).
	failTimes int
}

func (j *memJournal) Append(_ context.Context, ev engine.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failOn != "" && ev.Kind() == j.failOn && j.failTimes > 0 {
		j.failTimes--
		if j.failTimes == 0 {
			j.failOn = ""
		}
		return errors.New("database is locked")
	}
	if (j.failAt > 0 && len(j.events)+1 >= j.failAt) || (j.failOn != "" && ev.Kind() == j.failOn) {
		return errors.New("disk I/O error")
	}
	j.events = append(j.events, ev)
	return nil
}

func (j *memJournal) kinds() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, ev := range j.events {
		out = append(out, ev.Kind())
	}
	return out
}

func (j *memJournal) find(kind string) []engine.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []engine.Event
	for _, ev := range j.events {
		if ev.Kind() == kind {
			out = append(out, ev)
		}
	}
	return out
}

func approveAll(h *harness, g *engine.GateOpened, op string) {
	for i := range g.Checklist {
		h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputTick, Item: i, Operator: op})
	}
	h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Text: g.Expect, Operator: op})
}

func abortOnFailure(h *harness) func(f *engine.FailureOpened) {
	return func(f *engine.FailureOpened) {
		h.eng.Send(engine.Input{Step: f.Step, Kind: engine.InputAbort, Operator: "bob"})
	}
}

type harness struct {
	t       *testing.T
	rb      *runbooks.Runbook
	lab     *sim.Lab
	journal *memJournal
	eng     *engine.Engine
	seen    chan engine.Event
}

const speed = 200

func referenceRunbook(t *testing.T) *runbooks.Runbook {
	t.Helper()
	const file = "../testdata/runbooks/good/reference-drill.yaml"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, file, string(src))
}

func mustParse(t *testing.T, file, src string) *runbooks.Runbook {
	t.Helper()
	rb, diags := runbooks.Parse(file, []byte(src))
	if diags.HasErrors() {
		t.Fatalf("runbook does not parse:\n%v", diags)
	}
	return rb
}

// newHarness builds an engine on a simulated lab populated from the runbook.
func newHarness(t *testing.T, rb *runbooks.Runbook, auto bool, faults ...string) *harness {
	t.Helper()
	return newHarnessMode(t, rb, auto, "test", faults...)
}

// newHarnessMode is newHarness for a run in the given mode.
func newHarnessMode(t *testing.T, rb *runbooks.Runbook, auto bool, mode string, faults ...string) *harness {
	t.Helper()
	lab := sim.NewLab(7, speed)
	lab.Populate(rb, nil)
	for _, f := range faults {
		if err := lab.Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	sites := map[string]engine.Hypervisor{}
	for _, s := range rb.Sites {
		hv, err := lab.Hypervisor(s.URI)
		if err != nil {
			t.Fatal(err)
		}
		sites[s.Name] = hv
	}
	j := &memJournal{}
	eng, err := engine.New(rb, sites, j, engine.Options{RunID: 1, Operator: "alice", Mode: mode, AutoApprove: auto, TimeScale: speed, OutcomeBudget: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, rb: rb, lab: lab, journal: j, eng: eng, seen: make(chan engine.Event, 4096)}
	return h
}

// run runs the engine; answer is called for every gate that opens.
func (h *harness) run(answer func(g *engine.GateOpened)) (engine.Outcome, error) {
	return h.runWith(answer, nil)
}

// runWith also calls onFailure for every failure prompt.
func (h *harness) runWith(answer func(g *engine.GateOpened), onFailure func(f *engine.FailureOpened)) (engine.Outcome, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type res struct {
		o   engine.Outcome
		err error
	}
	done := make(chan res, 1)
	go func() {
		o, err := h.eng.Run(ctx)
		done <- res{o, err}
	}()
	for ev := range h.eng.Events() {
		h.seen <- ev
		if g, ok := ev.(*engine.GateOpened); ok && answer != nil {
			go answer(g)
		}
		if f, ok := ev.(*engine.FailureOpened); ok && onFailure != nil {
			go onFailure(f)
		}
	}
	r := <-done
	return r.o, r.err
}

// ended returns the run's run.ended event; the run must have ended.
func (h *harness) ended() *engine.RunEnded {
	h.t.Helper()
	evs := h.journal.find("run.ended")
	if len(evs) != 1 {
		h.t.Fatalf("%d run.ended events, want 1", len(evs))
	}
	return evs[0].(*engine.RunEnded)
}

func (h *harness) stepStates() map[string]engine.StepState {
	out := map[string]engine.StepState{}
	for _, ev := range h.journal.find("step.changed") {
		sc := ev.(*engine.StepChanged)
		out[sc.Step] = sc.State
	}
	return out
}

func (h *harness) domainState(site, dom string) engine.DomainState {
	h.t.Helper()
	s, err := h.lab.Site(site).DomainState(context.Background(), dom)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func TestReferenceDrillAutoApprove(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), true)
	outcome, err := h.run(nil)
	if err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s, err %v", outcome, err)
	}
	for _, st := range h.rb.Steps {
		if got := h.stepStates()[st.ID]; got != engine.StepSucceeded {
			t.Errorf("step %s: %s, want succeeded", st.ID, got)
		}
	}
	for _, d := range []string{"db-01", "app-01", "app-02", "web-01"} {
		if s := h.domainState("primary", d); s != engine.StateShutoff {
			t.Errorf("primary/%s is %s, want shutoff", d, s)
		}
		if s := h.domainState("secondary", d); s != engine.StateRunning {
			t.Errorf("secondary/%s is %s, want running", d, s)
		}
	}
	// Every intent has an outcome, and it came right after its own action.
	intents, outcomes := h.journal.find("action.intent"), h.journal.find("action.outcome")
	if len(intents) != 8 || len(outcomes) != 8 {
		t.Fatalf("%d intents and %d outcomes, want 8 of each", len(intents), len(outcomes))
	}
	// Sequence numbers are gapless from 1.
	for i, ev := range h.journal.events {
		if ev.EventMeta().Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.EventMeta().Seq)
		}
	}
	ended := h.ended()
	if ended.RTOAchieved <= 0 || ended.RTOTarget != 4*time.Hour {
		t.Errorf("RTO achieved %s target %s", ended.RTOAchieved, ended.RTOTarget)
	}
	decided := h.journal.find("gate.decided")
	for _, ev := range decided {
		if d := ev.(*engine.GateDecided); d.Operator != engine.AutoOperator || !d.Approved {
			t.Errorf("gate %s decided by %q approved=%v", d.Step, d.Operator, d.Approved)
		}
	}
}

func TestPrimaryShutdownOrderIsSequential(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), true)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("%s %v", o, err)
	}
	var order []string
	var open int
	for _, ev := range h.journal.events {
		switch e := ev.(type) {
		case *engine.ActionIntent:
			if e.Step == "stop-primary" {
				order = append(order, e.Domain)
				open++
				if open > 1 {
					t.Fatal("two shutdowns in flight at once")
				}
			}
		case *engine.ActionOutcome:
			if e.Step == "stop-primary" {
				open--
			}
		}
	}
	if strings.Join(order, ",") != "web-01,app-02,app-01,db-01" {
		t.Errorf("shutdown order %v", order)
	}
}

func TestStartGroupsInOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), true)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("%s %v", o, err)
	}
	// db-01 must be running before any app starts; apps before web.
	done := map[string]int{}
	started := map[string]int{}
	for i, ev := range h.journal.events {
		switch e := ev.(type) {
		case *engine.ActionIntent:
			if e.Step == "start-secondary" {
				started[e.Domain] = i
			}
		case *engine.ActionOutcome:
			if e.Step == "start-secondary" {
				done[e.Domain] = i
			}
		}
	}
	for _, app := range []string{"app-01", "app-02"} {
		if started[app] < done["db-01"] {
			t.Errorf("%s started before db-01 was running", app)
		}
		if started["web-01"] < done[app] {
			t.Errorf("web-01 started before %s was running", app)
		}
	}
}

func TestGatesAnsweredByOperator(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), false)
	outcome, err := h.run(func(g *engine.GateOpened) {
		for i := range g.Checklist {
			h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputTick, Item: i, Operator: "alice"})
		}
		// A wrong typed text first: it must not confirm.
		if g.Expect != "" {
			h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Text: "primry", Operator: "alice"})
		}
		h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Text: g.Expect, Operator: "alice"})
	})
	if err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s, err %v", outcome, err)
	}
	var typed *engine.GateDecided
	for _, ev := range h.journal.find("gate.decided") {
		d := ev.(*engine.GateDecided)
		if d.Operator != "alice" {
			t.Errorf("gate %s decided by %q", d.Step, d.Operator)
		}
		if d.Step == "stop-primary" {
			typed = d
		}
	}
	if typed == nil || typed.Typed != "primary" {
		t.Fatalf("typed gate decision %+v", typed)
	}
	if n := len(h.journal.find("checklist.ticked")); n != 2 {
		t.Errorf("%d ticks, want 2", n)
	}
	warned := false
	for _, ev := range h.journal.find("log") {
		if strings.Contains(ev.(*engine.Logged).Message, `typed "primry"`) {
			warned = true
		}
	}
	if !warned {
		t.Error("the mistyped confirmation was not recorded")
	}
}

func TestManualStepNeedsEveryItemTicked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), false)
	var once sync.Once
	outcome, _ := h.runWith(func(g *engine.GateOpened) {
		if g.Step == "announce" {
			// Done before ticking: refused by the engine, then tick and finish.
			h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Operator: "alice"})
			for i := range g.Checklist {
				h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputTick, Item: i, Operator: "alice"})
			}
			h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Operator: "alice"})
			return
		}
		once.Do(func() { h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputRefuse, Operator: "bob"}) })
	}, abortOnFailure(h))
	if outcome != engine.OutcomeAborted {
		t.Fatalf("outcome %s, want aborted", outcome)
	}
	kinds := strings.Join(h.journal.kinds(), " ")
	if !strings.Contains(kinds, "gate.opened log checklist.ticked checklist.ticked gate.decided") {
		t.Errorf("approve before ticking was not refused: %s", kinds)
	}
}

func TestGateRefusedAbortsWithoutActing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), false)
	outcome, err := h.runWith(func(g *engine.GateOpened) {
		if g.Step == "stop-primary" {
			h.eng.Send(engine.Input{Step: g.Step, Kind: engine.InputRefuse, Text: "n", Operator: "bob"})
			return
		}
		approveAll(h, g, "bob")
	}, abortOnFailure(h))
	if err != nil || outcome != engine.OutcomeAborted {
		t.Fatalf("outcome %s err %v, want aborted", outcome, err)
	}
	if n := len(h.journal.find("action.intent")); n != 0 {
		t.Errorf("%d actions after a refused gate", n)
	}
	if s := h.domainState("primary", "web-01"); s != engine.StateRunning {
		t.Errorf("primary/web-01 is %s after a refused gate", s)
	}
	st := h.stepStates()
	if st["stop-primary"] != engine.StepFailed || st["start-secondary"] != "" {
		t.Errorf("states after refusal: %v", st)
	}
	end := h.ended()
	if !strings.Contains(end.Reason, "refused") || !strings.Contains(end.Reason, "bob") {
		t.Errorf("reason %q does not say who refused", end.Reason)
	}
}

func TestStartFailureFailsTheRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), true, "fail-start=secondary/app-02")
	outcome, err := h.run(nil)
	if err != nil || outcome != engine.OutcomeFailed {
		t.Fatalf("outcome %s err %v, want failed", outcome, err)
	}
	st := h.stepStates()
	if st["start-secondary"] != engine.StepFailed {
		t.Errorf("start-secondary is %s", st["start-secondary"])
	}
	if _, ran := st["secondary-running"]; ran {
		t.Error("a step after the failure ran")
	}
	// web-01 is in the next group: it must not have been started.
	if s := h.domainState("secondary", "web-01"); s != engine.StateShutoff {
		t.Errorf("secondary/web-01 is %s; the group after a failure must not start", s)
	}
	end := h.ended()
	for _, want := range []string{"secondary", "sim://secondary", "app-02"} {
		if !strings.Contains(end.Reason, want) {
			t.Errorf("failure reason %q does not name %s", end.Reason, want)
		}
	}
}

func TestIgnoredShutdownIsForced(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), true, "ignore-shutdown=primary/app-02")
	outcome, err := h.run(nil)
	if err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s err %v", outcome, err)
	}
	var verbs []string
	for _, ev := range h.journal.find("action.outcome") {
		o := ev.(*engine.ActionOutcome)
		if o.Domain == "app-02" && o.Site == "primary" {
			verbs = append(verbs, o.Verb+"="+map[bool]string{true: "ok", false: "failed"}[o.OK])
		}
	}
	if strings.Join(verbs, " ") != "shutdown=failed destroy=ok" {
		t.Errorf("app-02 actions: %v, want a failed graceful shutdown then a destroy", verbs)
	}
	if s := h.domainState("primary", "app-02"); s != engine.StateShutoff {
		t.Errorf("primary/app-02 is %s", s)
	}
}

func TestIgnoredShutdownWithoutForceFails(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: no-force
sites:
  primary: {uri: sim://primary}
steps:
  - id: stop
    gate: none
    shutdown: {site: primary, domains: [db-01], timeout: 30s}
`
	rb, diags := runbooks.Parse("no-force.yaml", []byte(src))
	if rb == nil {
		t.Fatal(diags)
	}
	h := newHarness(t, rb, true, "ignore-shutdown=primary/db-01")
	outcome, _ := h.run(nil)
	if outcome != engine.OutcomeFailed {
		t.Fatalf("outcome %s, want failed", outcome)
	}
	if n := len(h.journal.find("action.intent")); n != 1 {
		t.Errorf("%d actions, want only the graceful shutdown (no destroy without force)", n)
	}
	end := h.ended()
	if !strings.Contains(end.Reason, "force is off") {
		t.Errorf("reason %q does not say what to do", end.Reason)
	}
	if s := h.domainState("primary", "db-01"); s != engine.StateRunning {
		t.Errorf("db-01 is %s", s)
	}
}

func TestJournalFailurePreventsTheAction(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), true)
	h.journal.failOn = "action.intent"
	outcome, err := h.run(nil)
	if err == nil || outcome != engine.OutcomeRunning {
		t.Fatalf("outcome %s err %v: a journal failure must stop the run unfinished", outcome, err)
	}
	if !strings.Contains(err.Error(), "audit trail cannot be written") {
		t.Errorf("error %q does not explain", err)
	}
	if s := h.domainState("primary", "web-01"); s != engine.StateRunning {
		t.Errorf("primary/web-01 is %s: the action ran without its intent recorded", s)
	}
}

func TestCheckFailureNamesDomains(t *testing.T) {
	t.Parallel()
	rb := referenceRunbook(t)
	h := newHarness(t, rb, true)
	// The secondary is not idle: db-01 already runs there.
	if err := h.lab.Site("secondary").Start(context.Background(), "db-01"); err != nil {
		t.Fatal(err)
	}
	outcome, _ := h.run(nil)
	if outcome != engine.OutcomeFailed {
		t.Fatalf("outcome %s", outcome)
	}
	end := h.ended()
	if !strings.Contains(end.Reason, "db-01 is running") || !strings.Contains(end.Reason, "secondary-ready") {
		t.Errorf("reason %q", end.Reason)
	}
	if n := len(h.journal.find("action.intent")); n != 0 {
		t.Errorf("%d actions after a failed check", n)
	}
}

func TestInterruptLeavesRunResumable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, referenceRunbook(t), false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := h.eng.Run(ctx)
		done <- err
	}()
	for ev := range h.eng.Events() {
		if _, ok := ev.(*engine.GateOpened); ok {
			cancel()
		}
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if n := len(h.journal.find("run.ended")); n != 0 {
		t.Error("an interrupted run was ended")
	}
}

func TestPasswordsNeverRecorded(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"qemu+tls://ops:s3cret@kvm1/system":  "qemu+tls://ops:xxxxx@kvm1/system",
		"qemu+ssh://root@kvm1/system":        "qemu+ssh://root@kvm1/system",
		"test+unix:///default?socket=/tmp/s": "test+unix:///default?socket=/tmp/s",
		"sim://primary":                      "sim://primary",
	} {
		if got := engine.RedactURI(in); got != want {
			t.Errorf("RedactURI(%q) = %q, want %q", in, got, want)
		}
	}
	h := newHarness(t, referenceRunbook(t), true)
	eng, err := engine.New(h.rb, map[string]engine.Hypervisor{"primary": h.lab.Site("primary"), "secondary": h.lab.Site("secondary")}, h.journal,
		engine.Options{RunID: 1, AutoApprove: true, TimeScale: speed, URIs: map[string]string{"primary": "qemu+tls://ops:s3cret@kvm1/system"}})
	if err != nil {
		t.Fatal(err)
	}
	h.eng = eng
	h.run(nil)
	for _, ev := range h.journal.events {
		b, _ := engine.EncodeEvent(ev)
		if strings.Contains(string(b), "s3cret") {
			t.Fatalf("%s event holds the password: %s", ev.Kind(), b)
		}
	}
}
