package ui

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

// updating reports -update, the flag teatest's golden package defines.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func TestMain(m *testing.M) {
	time.Local = time.UTC // log timestamps in goldens
	os.Exit(m.Run())
}

// fakeDriver feeds recorded events and records what the screen sends.
type fakeDriver struct {
	rb     *runbooks.Runbook
	events chan engine.Event
	mu     sync.Mutex
	sent   []engine.Input
	notes  []string
}

func newFake(t *testing.T) *fakeDriver {
	t.Helper()
	const file = "../testdata/runbooks/good/reference-drill.yaml"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rb, diags := runbooks.Parse(file, src)
	if rb == nil {
		t.Fatal(diags)
	}
	return &fakeDriver{rb: rb, events: make(chan engine.Event, 100)}
}

func (f *fakeDriver) Events() <-chan engine.Event { return f.events }
func (f *fakeDriver) Runbook() *runbooks.Runbook  { return f.rb }
func (f *fakeDriver) Options() engine.Options {
	return engine.Options{RunID: 7, Mode: "test", Operator: "alice"}
}
func (f *fakeDriver) Send(in engine.Input) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, in)
	return nil
}
func (f *fakeDriver) Note(_ context.Context, op, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes = append(f.notes, op+": "+text)
	return nil
}
func (f *fakeDriver) inputs() []engine.Input {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.Input(nil), f.sent...)
}

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func at(sec int, ev engine.Event) engine.Event {
	m := ev.EventMeta()
	m.RunID = 7
	m.At = t0.Add(time.Duration(sec) * time.Second)
	return ev
}

// midRun is a drill stopped at the typed gate of stop-primary.
func midRun() []engine.Event {
	return []engine.Event{
		at(0, &engine.RunStarted{Runbook: "reference-drill", Mode: "test", Operator: "alice"}),
		at(0, &engine.StepChanged{Step: "announce", State: engine.StepWaiting}),
		at(0, &engine.GateOpened{Step: "announce", Gate: "none", Prompt: "Tell the on-call channel.", Checklist: []string{"Change ticket is open", "Customers were notified"}}),
		at(20, &engine.ChecklistTicked{Step: "announce", Item: 0, Text: "Change ticket is open", Operator: "alice"}),
		at(25, &engine.ChecklistTicked{Step: "announce", Item: 1, Text: "Customers were notified", Operator: "alice"}),
		at(30, &engine.GateDecided{Step: "announce", Approved: true, Operator: "alice", Waited: 30 * time.Second}),
		at(30, &engine.StepChanged{Step: "announce", State: engine.StepSucceeded}),
		at(30, &engine.StepChanged{Step: "secondary-ready", State: engine.StepRunning}),
		at(31, &engine.Logged{Step: "secondary-ready", Level: "info", Message: "secondary/db-01: shutoff"}),
		at(31, &engine.StepChanged{Step: "secondary-ready", State: engine.StepSucceeded}),
		at(31, &engine.StepChanged{Step: "stop-primary", State: engine.StepWaiting}),
		at(31, &engine.GateOpened{Step: "stop-primary", Gate: "typed", Expect: "primary", Prompt: "shutdown 4 domain(s) at site primary: [web-01 app-02 app-01 db-01]"}),
	}
}

func newModel(t *testing.T, f *fakeDriver, w, h int) *RunModel {
	t.Helper()
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	m := NewRunModel(f, Config{DB: "/var/lib/repli/audit.db", Operator: "alice", Renderer: r, NoTick: true, Now: func() time.Time { return t0.Add(45 * time.Second) }})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Init() // starts the sender that forwards inputs to the driver
	t.Cleanup(m.Stop)
	return m
}

// waitInputs waits until the fake driver has received n inputs.
func waitInputs(t *testing.T, f *fakeDriver, n int) []engine.Input {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if in := f.inputs(); len(in) >= n {
			return in
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the driver received %d input(s), want %d", len(f.inputs()), n)
	return nil
}

func feed(m *RunModel, evs []engine.Event) {
	for _, ev := range evs {
		m.Update(eventsMsg{[]engine.Event{ev}})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no golden file (go test ./ui -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("screen differs from %s\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func checkSize(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want exactly %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := lipgloss.Width(l); lw > w {
			t.Errorf("line %d is %d wide, more than %d: %q", i+1, lw, w, l)
		}
	}
}

func TestRunScreenGoldens(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		f := newFake(t)
		m := newModel(t, f, size.w, size.h)
		feed(m, midRun())
		view := m.View()
		checkSize(t, view, size.w, size.h)
		golden(t, "typed-gate-"+itoaSize(size.w, size.h), view)
	}
}

func itoaSize(w, h int) string { return fmt.Sprintf("%dx%d", w, h) }

func TestEndedRunGolden(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	evs := midRun()
	evs = append(evs,
		at(40, &engine.GateDecided{Step: "stop-primary", Approved: true, Operator: "alice", Typed: "primary"}),
		at(40, &engine.RTOStarted{Step: "stop-primary"}),
		at(40, &engine.StepChanged{Step: "stop-primary", State: engine.StepRunning}),
		at(41, &engine.ActionIntent{Action: 1, Step: "stop-primary", Site: "primary", Domain: "web-01", Verb: "shutdown"}),
		at(44, &engine.ActionOutcome{Action: 1, Step: "stop-primary", Site: "primary", Domain: "web-01", Verb: "shutdown", OK: false, Error: "site primary (sim://primary), domain web-01: timed out", Duration: 3 * time.Second}),
		at(44, &engine.StepChanged{Step: "stop-primary", State: engine.StepFailed, Reason: "site primary (sim://primary), domain web-01: timed out"}),
		at(50, &engine.FailureDecided{Step: "stop-primary", Choice: engine.ChoiceAbort, Operator: "alice"}),
		at(50, &engine.RunEnded{Outcome: engine.OutcomeFailed, Reason: "step stop-primary failed: timed out", Duration: 50 * time.Second}),
	)
	feed(m, evs)
	m.Update(closedMsg{})
	view := m.View()
	checkSize(t, view, 80, 24)
	golden(t, "failed-80x24", view)
}

func TestTooSmallScreenSaysSo(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 40, 10)
	if v := m.View(); !strings.Contains(v, "needs at least 60×16") {
		t.Errorf("view at 40x10: %q", v)
	}
}

func TestConfirmGateOnlyYProceeds(t *testing.T) {
	for _, tc := range []struct {
		key  tea.KeyMsg
		want engine.InputKind
	}{
		{tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")}, engine.InputApprove},
		{tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("Y")}, engine.InputRefuse},
		{tea.KeyMsg{Type: tea.KeyEnter}, engine.InputRefuse},
		{tea.KeyMsg{Type: tea.KeySpace}, engine.InputRefuse},
		{tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("n")}, engine.InputRefuse},
	} {
		f := newFake(t)
		m := newModel(t, f, 80, 24)
		feed(m, []engine.Event{
			at(0, &engine.StepChanged{Step: "start-secondary", State: engine.StepWaiting}),
			at(0, &engine.GateOpened{Step: "start-secondary", Gate: "confirm", Prompt: "start 4 domain(s)"}),
		})
		m.Update(tc.key)
		in := waitInputs(t, f, 1)
		if len(in) != 1 || in[0].Kind != tc.want || in[0].Step != "start-secondary" || in[0].Operator != "alice" {
			t.Errorf("key %q sent %+v, want kind %d", tc.key, in, tc.want)
		}
	}
}

func TestCtrlCAtGateAsksToQuitInsteadOfRefusing(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, []engine.Event{at(0, &engine.GateOpened{Step: "start-secondary", Gate: "confirm"})})
	m.Update(tea.KeyMsg{Type: tea.KeyCtrlC})
	if len(f.inputs()) != 0 || m.Mode() != ModeQuitConfirm {
		t.Fatalf("ctrl+c sent %v, mode %s", f.inputs(), m.Mode())
	}
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("n")})
	if cmd != nil || m.Mode() == ModeQuitConfirm || len(f.inputs()) != 0 {
		t.Fatal("declining to quit had an effect")
	}
}

func TestFailureKeys(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, []engine.Event{at(0, &engine.FailureOpened{Step: "start-secondary", Error: "boom", Choices: []engine.Choice{"retry", "skip", "abort"}})})
	m.Update(tea.KeyMsg{Type: tea.KeyEnter}) // must send nothing
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("r")})
	if in := waitInputs(t, f, 1); len(in) != 1 || in[0].Kind != engine.InputRetry {
		t.Fatalf("sent %+v, want only the retry (enter must do nothing)", in)
	}
}

// TestTypedGateThroughProgram drives the real Bubble Tea program: a wrong
// text is not sent, the right one approves.
func TestTypedGateThroughProgram(t *testing.T) {
	f := newFake(t)
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	m := NewRunModel(f, Config{DB: "audit.db", Operator: "alice", Renderer: r, NoTick: true})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	for _, ev := range midRun() {
		f.events <- ev
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return strings.Contains(string(b), "typed gate") }, teatest.WithDuration(5*time.Second))
	tm.Type("primry")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return strings.Contains(string(b), "type it exactly") }, teatest.WithDuration(5*time.Second))
	for range 6 {
		tm.Send(tea.KeyMsg{Type: tea.KeyBackspace})
	}
	tm.Type("primary")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	deadline := time.Now().Add(5 * time.Second)
	for len(f.inputs()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(f.events)
	// ctrl+c quits a finished run at once, or asks first during one: y answers.
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	in := f.inputs()
	if len(in) != 1 || in[0].Kind != engine.InputApprove || in[0].Text != "primary" {
		t.Fatalf("sent %+v, want one approval with the typed site name", in)
	}
}

// TestQuickTickThenEnter: space then enter at once completes a one-item
// manual step: the tick leaves before the "done", in order.
func TestQuickTickThenEnter(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, []engine.Event{at(0, &engine.GateOpened{Step: "announce", Gate: "none", Prompt: "p", Checklist: []string{"only item"}})})
	m.Update(tea.KeyMsg{Type: tea.KeySpace})
	m.Update(tea.KeyMsg{Type: tea.KeyEnter})
	in := waitInputs(t, f, 2)
	if in[0].Kind != engine.InputTick || in[1].Kind != engine.InputApprove {
		t.Fatalf("sent %+v, want a tick then the approval", in)
	}
}

func TestHelpKeyShowsEveryKey(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, midRun()[:2]) // running, no gate open
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("?")})
	view := m.View()
	checkSize(t, view, 80, 24)
	for _, want := range []string{"confirm gate", "typed gate", "after failure", "n note"} {
		if !strings.Contains(view, want) {
			t.Errorf("help lacks %q:\n%s", want, view)
		}
	}
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("?")})
	if strings.Contains(m.View(), "after failure") {
		t.Error("? did not close the help")
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 42 * time.Second: "42s", 3*time.Minute + 7*time.Second: "3m07s",
		30 * time.Minute: "30m", 4 * time.Hour: "4h00m", 62 * time.Minute: "1h02m", -time.Second: "0s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
