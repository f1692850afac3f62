package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return r
}

func runes(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

var (
	keyEnter = tea.KeyMsg{Type: tea.KeyEnter}
	keyEsc   = tea.KeyMsg{Type: tea.KeyEsc}
	keyCtrlC = tea.KeyMsg{Type: tea.KeyCtrlC}
	keySpace = tea.KeyMsg{Type: tea.KeySpace}
)

// estateRunbook is a two-site runbook whose start step acts on n domains.
func estateRunbook(t testing.TB, n int) *runbooks.Runbook {
	t.Helper()
	var doms []string
	for i := range n {
		doms = append(doms, fmt.Sprintf("vm-%04d", i+1))
	}
	src := fmt.Sprintf(`version: 1
name: big-estate
title: Start the whole estate at the secondary site
rto: 1h
sites:
  primary:
    uri: sim://primary
  secondary:
    uri: sim://secondary
steps:
  - id: stop-primary
    title: Stop the primary site
    gate: confirm
    rto: start
    shutdown:
      site: primary
      domains: [%[1]s]
  - id: start-secondary
    title: Start every domain at the secondary site
    start:
      site: secondary
      domains: [%[1]s]
    rto: stop
`, strings.Join(doms, ", "))
	rb, diags := runbooks.Parse("big.yaml", []byte(src))
	if rb == nil || diags.HasErrors() {
		t.Fatalf("estate runbook: %v", diags)
	}
	return rb
}

// estateRun: the primary is stopped, the secondary's domains are being
// started, 23 of them done, 2 in flight, 1 failed.
func estateRun(n int) []engine.Event {
	evs := []engine.Event{
		at(0, &engine.RunStarted{Runbook: "big-estate", Mode: "test", Operator: "alice"}),
		at(0, &engine.StepChanged{Step: "stop-primary", State: engine.StepSucceeded}),
		at(1, &engine.RTOStarted{Step: "stop-primary"}),
		at(1, &engine.StepChanged{Step: "start-secondary", State: engine.StepRunning}),
	}
	id := int64(0)
	for i := range min(n, 26) {
		id++
		dom := fmt.Sprintf("vm-%04d", i+1)
		evs = append(evs, at(2, &engine.ActionIntent{Action: id, Step: "start-secondary", Site: "secondary", Domain: dom, Verb: "start"}))
		switch {
		case i < 23:
			evs = append(evs, at(3, &engine.ActionOutcome{Action: id, Step: "start-secondary", Site: "secondary", Domain: dom, Verb: "start", OK: true, Duration: time.Second}))
		case i == 23:
			evs = append(evs, at(3, &engine.ActionOutcome{Action: id, Step: "start-secondary", Site: "secondary", Domain: dom, Verb: "start", Error: "no memory"}))
		}
	}
	return evs
}

func siteStatus(site string, n int, running func(i int) bool) engine.SiteStatus {
	st := engine.SiteStatus{Site: site, Reachable: true, At: t0.Add(40 * time.Second), Domains: map[string]engine.DomainState{}}
	for i := range n {
		s := engine.StateShutoff
		if running(i) {
			s = engine.StateRunning
		}
		st.Domains[fmt.Sprintf("vm-%04d", i+1)] = s
	}
	return st
}

func newEstateModel(t testing.TB, n, w, h int, cfg Config) (*RunModel, *fakeDriver) {
	f := &fakeDriver{rb: estateRunbook(t, n), events: make(chan engine.Event, 100)}
	cfg.DB, cfg.Operator, cfg.Renderer, cfg.NoTick = "/var/lib/repli/audit.db", "alice", asciiRenderer(), true
	cfg.Now = func() time.Time { return t0.Add(45 * time.Second) }
	m := NewRunModel(f, cfg)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(eventsMsg{estateRun(n)})
	m.Update(siteMsg{siteStatus("primary", n, func(int) bool { return false })})
	m.Update(siteMsg{siteStatus("secondary", n, func(i int) bool { return i < 23 })})
	return m, f
}

func TestEstateGoldens(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}, {60, 20}} {
		m, _ := newEstateModel(t, 50, size.w, size.h, Config{Simulated: true})
		view := m.View()
		checkSize(t, view, size.w, size.h)
		for _, want := range []string{"23/50 started", "1 failed", "2 in progress", "SIMULATED", "RTO 0:00:44 / 1h00m", "✓ secondary up"} {
			if !strings.Contains(view, want) {
				t.Errorf("%dx%d: the screen lacks %q:\n%s", size.w, size.h, want, view)
			}
		}
		golden(t, "estate-50-"+itoaSize(size.w, size.h), view)
	}
}

func TestSitesSideBySideWhenWide(t *testing.T) {
	m, _ := newEstateModel(t, 50, 120, 40, Config{})
	both := 0
	for _, l := range strings.Split(m.View(), "\n") {
		if strings.Contains(l, "primary up") && strings.Contains(l, "secondary up") {
			both++
		}
	}
	if both != 1 {
		t.Errorf("at 120 columns the two sites are not side by side:\n%s", m.View())
	}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 40})
	for _, l := range strings.Split(m.View(), "\n") {
		if strings.Contains(l, "primary up") && strings.Contains(l, "secondary up") {
			t.Errorf("at 80 columns the sites are not stacked:\n%s", m.View())
		}
	}
}

func TestSitesScroll(t *testing.T) {
	m, _ := newEstateModel(t, 50, 80, 24, Config{})
	before := m.View()
	if !strings.Contains(before, "rows 1-2/17") {
		t.Fatalf("a 50-domain estate at 80x24 does not say it has more:\n%s", before)
	}
	m.Update(runes("f")) // pgdn
	if after := m.View(); after == before {
		t.Error("pgdn did not scroll the sites")
	}
}

func TestUnreachableSiteSaysSinceWhen(t *testing.T) {
	m, _ := newEstateModel(t, 4, 80, 24, Config{})
	m.Update(siteMsg{engine.SiteStatus{Site: "primary", Err: "connection refused", At: t0.Add(44 * time.Second)}})
	v := m.View()
	if !strings.Contains(v, "✗ primary NOT ANSWERING · last answered 5s ago") {
		t.Errorf("no unreachable site with its last answer:\n%s", v)
	}
}

func TestClockNeverCutWhenNarrow(t *testing.T) {
	m, _ := newEstateModel(t, 50, 60, 20, Config{Simulated: true})
	head := strings.Split(m.View(), "\n")[0]
	if !strings.Contains(head, "RTO 0:00:44 / 1h00m") {
		t.Errorf("the RTO clock is cut at 60 columns: %q", head)
	}
}

// failureModel is a run whose stop-primary step failed, asking.
func failureModel(t *testing.T) (*RunModel, *fakeDriver) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, append(midRun(),
		at(40, &engine.GateDecided{Step: "stop-primary", Approved: true, Operator: "alice", Typed: "primary"}),
		at(40, &engine.StepChanged{Step: "stop-primary", State: engine.StepFailed, Reason: "site primary (sim://primary), domain web-01: timed out"}),
		at(40, &engine.FailureOpened{Step: "stop-primary", Error: "site primary (sim://primary), domain web-01: timed out", Choices: []engine.Choice{engine.ChoiceRetry, engine.ChoiceMarkDone, engine.ChoiceSkip, engine.ChoiceAbort}}),
	))
	return m, f
}

func TestFailureGolden(t *testing.T) {
	m, _ := failureModel(t)
	v := m.View()
	checkSize(t, v, 80, 24)
	if i, j := strings.Index(v, "timed out"), strings.Index(v, "sim://primary"); i < 0 || j < 0 || i > j {
		t.Errorf("the reason is not before the URI:\n%s", v)
	}
	golden(t, "failure-80x24", v)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	golden(t, "failure-120x40", m.View())
}

func TestSkipAsksForAReason(t *testing.T) {
	m, f := failureModel(t)
	m.Update(runes("s"))
	if m.Mode() != ModeSkipReason {
		t.Fatalf("s: mode %s, want skip-reason", m.Mode())
	}
	m.Update(keyEnter)
	if len(f.inputs()) != 0 || !strings.Contains(m.View(), "a skip needs a reason") {
		t.Fatalf("an empty reason skipped (sent %v):\n%s", f.inputs(), m.View())
	}
	m.Update(runes("primary is gone, down for good"))
	m.Update(keyEnter)
	in := waitInputs(t, f, 1)
	if in[0].Kind != engine.InputSkip || in[0].Text != "primary is gone, down for good" || in[0].Step != "stop-primary" {
		t.Fatalf("sent %+v, want a skip with its reason", in)
	}
}

func TestSkipReasonEscGoesBack(t *testing.T) {
	m, f := failureModel(t)
	m.Update(runes("s"))
	m.Update(runes("x"))
	m.Update(keyEsc)
	if m.Mode() != ModeFailure || len(f.inputs()) != 0 {
		t.Fatalf("esc from the reason: mode %s, sent %v", m.Mode(), f.inputs())
	}
}

func TestAbortAsksToConfirm(t *testing.T) {
	m, f := failureModel(t)
	m.Update(runes("a"))
	if m.Mode() != ModeAbortConfirm || !strings.Contains(m.View(), "Abort the run at stop-primary?") {
		t.Fatalf("a: mode %s\n%s", m.Mode(), m.View())
	}
	m.Update(keyEnter) // anything but y goes back
	if m.Mode() != ModeFailure || len(f.inputs()) != 0 {
		t.Fatalf("enter at the abort prompt: mode %s, sent %v", m.Mode(), f.inputs())
	}
	m.Update(runes("a"))
	m.Update(runes("y"))
	if in := waitInputs(t, f, 1); in[0].Kind != engine.InputAbort {
		t.Fatalf("sent %+v, want the abort", in)
	}
}

func TestFailureFooterIsWhatKeysDo(t *testing.T) {
	m, f := failureModel(t)
	foot := lastLine(m.View())
	for _, want := range []string{"r retry", "m mark done", "s skip", "a abort", "n note", "q quit", "? help"} {
		if !strings.Contains(foot, want) {
			t.Errorf("failure footer lacks %q: %q", want, foot)
		}
	}
	m.Update(runes("m"))
	if in := waitInputs(t, f, 1); in[0].Kind != engine.InputMarkDone {
		t.Fatalf("m sent %+v", in)
	}
}

func TestFailureWithoutMarkDoneIgnoresM(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, []engine.Event{at(0, &engine.FailureOpened{Step: "start-secondary", Error: "boom", Choices: []engine.Choice{engine.ChoiceRetry, engine.ChoiceAbort}})})
	if strings.Contains(lastLine(m.View()), "mark done") {
		t.Errorf("footer offers mark done, which is not a choice: %q", lastLine(m.View()))
	}
	m.Update(runes("m"))
	m.Update(runes("s"))
	if m.Mode() != ModeFailure {
		t.Errorf("s opened %s though skip is not a choice", m.Mode())
	}
	time.Sleep(0) // nothing to wait for: the sender has nothing queued
	if len(f.inputs()) != 0 {
		t.Errorf("sent %v", f.inputs())
	}
}

func lastLine(v string) string {
	ls := strings.Split(v, "\n")
	return ls[len(ls)-1]
}

// TestEveryFooterHasHelp: ? (or f1 where ? is text) is on every footer, and
// pressing it opens the help.
func TestEveryFooterHasHelp(t *testing.T) {
	cases := map[string]func(*RunModel){
		"run":    func(m *RunModel) { feed(m, midRun()[:8]) },
		"manual": func(m *RunModel) { feed(m, midRun()[:3]) },
		"typed":  func(m *RunModel) { feed(m, midRun()) },
		"confirm": func(m *RunModel) {
			feed(m, []engine.Event{at(0, &engine.GateOpened{Step: "start-secondary", Gate: "confirm"})})
		},
		"failure": func(m *RunModel) {
			feed(m, []engine.Event{at(0, &engine.FailureOpened{Step: "start-secondary", Error: "x", Choices: []engine.Choice{engine.ChoiceRetry}})})
		},
		"note": func(m *RunModel) { feed(m, midRun()[:8]); m.Update(runes("n")) },
		"quit": func(m *RunModel) { feed(m, midRun()[:8]); m.Update(runes("q")) },
		"noManual": func(m *RunModel) {
			feed(m, []engine.Event{at(0, &engine.GateOpened{Step: "verify-users", Gate: "none", Prompt: "Log in"})})
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			m := newModel(t, f, 80, 24)
			setup(m)
			foot := lastLine(m.View())
			key := runes("?")
			switch {
			case strings.Contains(foot, "? help"):
			case strings.Contains(foot, "f1 help"):
				key = tea.KeyMsg{Type: tea.KeyF1}
			default:
				t.Fatalf("mode %s: no help on the footer: %q", m.Mode(), foot)
			}
			m.Update(key)
			if m.Mode() != ModeHelp {
				t.Fatalf("the help key left the mode %s", m.Mode())
			}
			if len(f.inputs()) != 0 {
				t.Errorf("the help key sent %v", f.inputs())
			}
		})
	}
}

func TestTwoPersonGateShowsWhoApproved(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, []engine.Event{
		at(0, &engine.GateOpened{Step: "start-secondary", Gate: "confirm", Prompt: "start 4 domains", Approvers: 2}),
		at(5, &engine.GateDecided{Step: "start-secondary", Approved: true, Operator: "bob", Approvals: 1, Needed: 2}),
	})
	v := m.View()
	if !strings.Contains(v, "approved by bob (1 of 2); the next one runs: repli approve 7 start-secondary") {
		t.Fatalf("two-person gate:\n%s", v)
	}
	m.Update(runes("y"))
	if in := waitInputs(t, f, 1); in[0].Kind != engine.InputApprove {
		t.Fatalf("y at a two-person gate sent %+v", in)
	}
}

func TestManualWithoutChecklist(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, []engine.Event{at(0, &engine.GateOpened{Step: "verify-users", Gate: "none", Prompt: "Log in as the test user"})})
	if m.Mode() != ModeGate {
		t.Fatalf("mode %s", m.Mode())
	}
	if foot := lastLine(m.View()); strings.Contains(foot, "tick") || !strings.Contains(foot, "enter step done") {
		t.Errorf("manual step without checklist footer: %q", foot)
	}
	m.Update(keyEnter)
	if in := waitInputs(t, f, 1); in[0].Kind != engine.InputApprove {
		t.Fatalf("enter sent %+v", in)
	}
}

func TestRecordedAnswerIsTyped(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, []engine.Event{at(0, &engine.GateOpened{Step: "verify-users", Gate: "none", Prompt: "What did you see?", Record: true})})
	m.Update(keyEnter)
	if !strings.Contains(m.View(), "type what was done or found first") {
		t.Fatalf("empty answer not refused:\n%s", m.View())
	}
	m.Update(runes("?"))
	if m.Mode() != ModeGate {
		t.Fatalf("? while typing the answer opened %s", m.Mode())
	}
	m.Update(runes(" all fine"))
	m.Update(keyEnter)
	if in := waitInputs(t, f, 1); in[0].Kind != engine.InputApprove || in[0].Text != "? all fine" {
		t.Fatalf("sent %+v", in)
	}
}

func TestNoteIsSent(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, midRun()[:8])
	m.Update(runes("n"))
	if m.Mode() != ModeNote {
		t.Fatalf("n: mode %s", m.Mode())
	}
	m.Update(runes("down"))
	_, cmd := m.Update(keyEnter)
	if cmd == nil {
		t.Fatal("enter sent no note")
	}
	cmd()
	if len(f.notes) != 1 || f.notes[0] != "alice: down" || m.Mode() != ModeRun {
		t.Fatalf("notes %v, mode %s", f.notes, m.Mode())
	}
}

func TestWatchQuitsWithoutAsking(t *testing.T) {
	f := newFake(t)
	m := NewRunModel(f, Config{Renderer: asciiRenderer(), NoTick: true, ReadOnly: true, Now: func() time.Time { return t0.Add(45 * time.Second) }})
	t.Cleanup(m.Stop)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	feed(m, midRun())
	if m.Mode() != ModeWatch {
		t.Fatalf("mode %s", m.Mode())
	}
	if _, cmd := m.Update(runes("y")); cmd != nil {
		t.Error("y did something while watching")
	}
	if _, cmd := m.Update(keyCtrlC); cmd == nil || m.Mode() == ModeQuitConfirm {
		t.Error("ctrl+c while watching asks to stop driving")
	}
}

func TestWatchDriverGoneGolden(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		f := newFake(t)
		m := NewRunModel(f, Config{DB: "/var/lib/repli/audit.db", Renderer: asciiRenderer(), NoTick: true, ReadOnly: true, Now: func() time.Time { return t0.Add(75 * time.Second) }})
		t.Cleanup(m.Stop)
		m.Update(tea.WindowSizeMsg{Width: size.w, Height: size.h})
		feed(m, midRun())
		m.Update(holderMsg{HolderStatus{Who: "alice on bastion (pid 42)", Gone: true, Why: "process 42 on bastion no longer exists", Since: t0.Add(44 * time.Second)}})
		v := m.View()
		checkSize(t, v, size.w, size.h)
		if !strings.Contains(v, "DRIVER GONE since 03:00:44 (31s ago)") || !strings.Contains(v, "a typed confirmation") {
			t.Errorf("watch with the driver gone:\n%s", v)
		}
		golden(t, "watch-gone-"+itoaSize(size.w, size.h), v)
	}
}

// endedModel is a run that succeeded, with its anchor.
func endedModel(t *testing.T, w, h int) *RunModel {
	f := newFake(t)
	m := NewRunModel(f, Config{DB: "/var/lib/repli/audit.db", Operator: "alice", Renderer: asciiRenderer(), NoTick: true,
		Now: func() time.Time { return t0.Add(2 * time.Hour) }, Anchor: func() string { return "57:9f86d081884c7d659a2feaa0c55ad015" }})
	t.Cleanup(m.Stop)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	evs := midRun()
	evs = append(evs,
		at(40, &engine.GateDecided{Step: "stop-primary", Approved: true, Operator: "alice", Typed: "primary"}),
		at(40, &engine.RTOStarted{Step: "stop-primary"}),
		at(40, &engine.StepChanged{Step: "stop-primary", State: engine.StepSucceeded}),
		at(60, &engine.StepChanged{Step: "start-secondary", State: engine.StepFailed, Reason: "fail"}),
		at(70, &engine.FailureDecided{Step: "start-secondary", Choice: engine.ChoiceSkip, Operator: "alice"}),
		at(70, &engine.StepChanged{Step: "start-secondary", State: engine.StepSkipped, Reason: "skipped by alice after failure: the secondary's SAN is down"}),
		at(900, &engine.RTOStopped{Step: "verify-users", Achieved: 860 * time.Second, Target: 4 * time.Hour}),
		at(900, &engine.RunEnded{Outcome: engine.OutcomeFailed, Reason: "a step was skipped after a failure", Duration: 900 * time.Second, RTOAchieved: 860 * time.Second, RTOTarget: 4 * time.Hour}),
	)
	m.Update(eventsMsg{evs})
	m.Update(closedMsg{})
	return m
}

func TestEndGoldenAndSummary(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		m := endedModel(t, size.w, size.h)
		v := m.View()
		checkSize(t, v, size.w, size.h)
		golden(t, "end-"+itoaSize(size.w, size.h), v)
	}
	m := endedModel(t, 80, 24)
	if m.Mode() != ModeEnd {
		t.Fatalf("mode %s", m.Mode())
	}
	s := m.Summary()
	for _, want := range []string{"Run 7 ✗ failed in 15m", "RTO 14m20s (within the 4h00m target)", "Skipped: start-secondary (skipped by alice after failure: the secondary's SAN is down)", "57:9f86d081884c7d659a2feaa0c55ad015"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "\x1b") {
		t.Errorf("summary holds escapes: %q", s)
	}
	if _, cmd := m.Update(keyEnter); cmd == nil {
		t.Error("enter does not leave an ended run")
	}
}

func TestSummaryEmptyWhileRunning(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, midRun())
	if s := m.Summary(); s != "" {
		t.Errorf("summary of a running run: %q", s)
	}
}

func TestOutsideTextIsMadeSafe(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, []engine.Event{
		at(0, &engine.GateOpened{Step: "announce", Gate: "none", Prompt: "evil \x1b]0;pwned\x07 prompt", Checklist: []string{"item \x1b[2J"}}),
		at(1, &engine.Logged{Step: "announce", Level: "info", Message: "out \x1b[31mred"}),
	})
	if v := m.View(); strings.Contains(v, "\x1b]0") || strings.Contains(v, "\x1b[2J") || strings.Contains(v, "\x1b[31m") {
		t.Errorf("control sequences from outside reach the screen: %q", v)
	}
}

func TestLastStepShowsStandingBeforeTheAnchorIsAsked(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 80, 24)
	feed(m, []engine.Event{
		at(0, &engine.RTOStarted{Step: "stop-primary"}),
		at(30, &engine.RTOStopped{Step: "verify-users", Achieved: 30 * time.Second, Target: 4 * time.Hour}),
		at(30, &engine.GateOpened{Step: "verify-users", Gate: "none", Prompt: "p", Checklist: []string{"Head hash written into the change ticket"}}),
	})
	if v := m.View(); !strings.Contains(v, "so far: RTO 30s (within the 4h00m target)") {
		t.Errorf("the last step does not show the run's standing:\n%s", v)
	}
}

func TestUsable(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if ok, why := Usable(w); ok || !strings.Contains(why, "not a terminal") {
		t.Errorf("a pipe: %v %q", ok, why)
	}
	if ok, _ := Usable(io.Discard); ok {
		t.Error("io.Discard is usable")
	}
}

func homeData() HomeData {
	return HomeData{
		DB:   "~/.local/state/repli/audit.db",
		Demo: true,
		Runbooks: []HomeRunbook{
			{Arg: "annual-pra-test", Name: "annual-pra-test", Title: "Annual PRA test", From: "bundled", Sites: []string{"primary", "secondary"}, RTO: 4 * time.Hour,
				Last: &HomeRun{ID: 3, Started: t0, Outcome: engine.OutcomeSucceeded}},
			{Arg: "runbooks/erp.yaml", Name: "erp-failover", Title: "ERP to the secondary site", From: "./runbooks", Sites: []string{"dc1", "dc2"}, RTO: time.Hour},
			{Arg: "runbooks/bad.yaml", Name: "bad", From: "./runbooks", Broken: "does not validate"},
		},
		Stopped: []HomeRun{{ID: 4, Runbook: "erp-failover", Mode: "planned", Operator: "bob", Host: "bastion", Started: t0.Add(time.Hour), Outcome: engine.OutcomeRunning}},
		Recent: []HomeRun{
			{ID: 3, Runbook: "annual-pra-test", Mode: "test", Started: t0, Outcome: engine.OutcomeSucceeded, RTO: 12 * time.Minute, RTOTarget: 4 * time.Hour},
			{ID: 2, Runbook: "annual-pra-test", Mode: "test", Started: t0.Add(-time.Hour), Outcome: engine.OutcomeAborted, Simulated: true},
		},
	}
}

func TestHomeGoldens(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		m := NewHomeModel(homeData(), asciiRenderer())
		m.Update(tea.WindowSizeMsg{Width: size.w, Height: size.h})
		v := m.View()
		checkSize(t, v, size.w, size.h)
		golden(t, "home-"+itoaSize(size.w, size.h), v)
	}
	m := NewHomeModel(HomeData{DB: "audit.db", Demo: true}, asciiRenderer())
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if v := m.View(); !strings.Contains(v, "The audit trail is empty") || !strings.Contains(v, "Start the demo drill") {
		t.Errorf("empty trail:\n%s", v)
	}
}

func TestHomeChoosesAndFilters(t *testing.T) {
	m := NewHomeModel(homeData(), asciiRenderer())
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(runes("/"))
	if m.Mode() != ModeFilter {
		t.Fatalf("/: mode %s", m.Mode())
	}
	m.Update(runes("erp"))
	m.Update(keyEnter) // keeps the filter
	v := m.View()
	if strings.Contains(v, "annual-pra-test   ") || !strings.Contains(v, "erp-failover") {
		t.Fatalf("filter erp:\n%s", v)
	}
	m.Update(runes("j")) // from the stopped run to the runbook
	_, cmd := m.Update(keyEnter)
	if c := m.Chosen(); cmd == nil || c == nil || c.Kind != ChoiceStart || c.Runbook != "runbooks/erp.yaml" {
		t.Fatalf("chosen %+v", c)
	}
	m = NewHomeModel(homeData(), asciiRenderer())
	m.Update(runes("/"))
	m.Update(runes("zzz"))
	m.Update(keyEsc)
	if m.Mode() != ModeHome || !strings.Contains(m.View(), "Resume run 4") {
		t.Fatalf("esc did not clear the filter:\n%s", m.View())
	}
	m.Update(keyEnter)
	if c := m.Chosen(); c == nil || c.Kind != ChoiceResume || c.RunID != 4 {
		t.Fatalf("the first choice is not the stopped run: %+v", c)
	}
	m = NewHomeModel(homeData(), asciiRenderer())
	m.Update(runes("?"))
	if m.Mode() != ModeHelp || !strings.Contains(m.View(), "filter") {
		t.Fatalf("? on home:\n%s", m.View())
	}
}

// TestConsoleHomeToRun goes home → preflight → run in one model, as the
// one tea.Program does.
func TestConsoleHomeToRun(t *testing.T) {
	f := newFake(t)
	var started Choice
	cfg := ConsoleConfig{Home: homeData(), Renderer: asciiRenderer(),
		Check: func(_ context.Context, c Choice) (Readiness, error) {
			return Readiness{Text: "Readiness of " + c.Runbook + " in " + c.Mode + " mode\n✓ ready", Ready: true}, nil
		}}
	start := func(_ context.Context, c Choice) (Driver, Config, error) {
		started = c
		return f, Config{DB: "audit.db", Operator: "alice", NoTick: true}, nil
	}
	m := NewConsole(context.Background(), cfg, start)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	step := func(k tea.KeyMsg) {
		t.Helper()
		_, cmd := m.Update(k)
		for cmd != nil {
			msg := cmd()
			if b, ok := msg.(tea.BatchMsg); ok || msg == nil {
				_ = b
				return
			}
			_, cmd = m.Update(msg)
			if m.Mode() != ModePreflight && m.mode == ModeRun {
				return
			}
		}
	}
	if m.Mode() != ModeHome {
		t.Fatalf("mode %s", m.Mode())
	}
	step(runes("j")) // the demo
	step(runes("j")) // annual-pra-test
	step(keyEnter)
	if m.Mode() != ModePreflight || !strings.Contains(m.View(), "Readiness of annual-pra-test in test mode") {
		t.Fatalf("after enter: mode %s\n%s", m.Mode(), m.View())
	}
	step(tea.KeyMsg{Type: tea.KeyTab})
	if !strings.Contains(m.View(), "in planned mode") {
		t.Fatalf("tab did not check another mode:\n%s", m.View())
	}
	step(keyEnter)
	if m.mode != ModeRun || started.Runbook != "annual-pra-test" || started.Mode != "planned" {
		t.Fatalf("mode %s, started %+v", m.Mode(), started)
	}
	t.Cleanup(m.run.Stop)
	m.Update(eventsMsg{midRun()})
	if m.Mode() != ModeGate || !strings.Contains(m.View(), "typed gate") {
		t.Fatalf("run screen: mode %s\n%s", m.Mode(), m.View())
	}
}

// settle feeds the model the messages its commands return, until one
// quits the program or there is nothing more to do; it says whether the
// program quit.
func settle(m *ConsoleModel, cmd tea.Cmd) bool {
	for cmd != nil {
		msg := cmd()
		if _, ok := msg.(tea.QuitMsg); ok {
			return true
		}
		if msg == nil {
			return false
		}
		if _, ok := msg.(tea.BatchMsg); ok {
			return false
		}
		_, cmd = m.Update(msg)
	}
	return false
}

// TestConsoleDirectStart: repli run FILE opens the console on its choice:
// a quiet, ready preflight goes straight to the run; one with something to
// read is shown, and leaving it leaves repli with ErrCancelled; a run that
// cannot start ends the program with its error, never the home screen.
func TestConsoleDirectStart(t *testing.T) {
	direct := &Choice{Kind: ChoiceStart, Runbook: "annual-pra-test", Mode: "test"}
	newDirect := func(r Readiness, startErr error) (*ConsoleModel, *fakeDriver) {
		f := newFake(t)
		cfg := ConsoleConfig{Home: homeData(), Renderer: asciiRenderer(), Direct: direct,
			Check: func(context.Context, Choice) (Readiness, error) { return r, nil }}
		m := NewConsole(context.Background(), cfg, func(context.Context, Choice) (Driver, Config, error) {
			if startErr != nil {
				return nil, Config{}, startErr
			}
			return f, Config{DB: "audit.db", Operator: "alice", NoTick: true}, nil
		})
		m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		return m, f
	}

	m, _ := newDirect(Readiness{Text: "✓ ready", Ready: true, Quiet: true}, nil)
	if quit := settle(m, m.Init()); quit || m.mode != ModeRun {
		t.Fatalf("quiet and ready: quit %v, mode %s, want the run\n%s", quit, m.Mode(), m.View())
	}
	m.run.Stop()

	m, _ = newDirect(Readiness{Text: "⚠ ready with 1 warning: web-01 has no guest agent", Ready: true}, nil)
	settle(m, m.Init())
	if m.Mode() != ModePreflight || !strings.Contains(m.View(), "web-01 has no guest agent") {
		t.Fatalf("a warning to read: mode %s\n%s", m.Mode(), m.View())
	}
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyEsc})
	if quit := settle(m, cmd); !quit || !errors.Is(m.err, ErrCancelled) {
		t.Fatalf("esc at a direct preflight: quit %v, err %v, mode %s", quit, m.err, m.Mode())
	}

	m, _ = newDirect(Readiness{Text: "✓ ready", Ready: true, Quiet: true}, fmt.Errorf("connect site dc1: connection refused"))
	if quit := settle(m, m.Init()); !quit || m.err == nil || !strings.Contains(m.err.Error(), "connection refused") {
		t.Fatalf("a direct start that fails: quit %v, err %v", quit, m.err)
	}
}

func TestConsoleStartErrorShownAtHome(t *testing.T) {
	m := NewConsole(context.Background(), ConsoleConfig{Home: homeData(), Renderer: asciiRenderer()},
		func(context.Context, Choice) (Driver, Config, error) {
			return nil, Config{}, fmt.Errorf("connect site dc1: connection refused; check the link")
		})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	_, cmd := m.Update(keyEnter)
	msg := cmd()
	_, cmd = m.Update(msg)
	m.Update(cmd())
	if m.Mode() != ModeHome || !strings.Contains(m.View(), "✗ connect site dc1: connection refused") {
		t.Fatalf("mode %s\n%s", m.Mode(), m.View())
	}
}

// BenchmarkViewLargeEstate: one frame of a 5,000-domain estate (issue 15:
// at most 5 ms).
func BenchmarkViewLargeEstate(b *testing.B) {
	m, _ := newEstateModel(b, 5000, 160, 48, Config{})
	m.View()
	b.ResetTimer()
	for b.Loop() {
		m.View()
	}
}

// BenchmarkApplyBurst: a burst of 5,000 action events, coalesced and drawn.
func BenchmarkApplyBurst(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		m, _ := newEstateModel(b, 10, 160, 48, Config{})
		evs := make([]engine.Event, 0, 5000)
		for i := range 2500 {
			id := int64(1000 + i)
			evs = append(evs, at(5, &engine.ActionIntent{Action: id, Step: "start-secondary", Site: "secondary", Domain: fmt.Sprintf("x-%d", i), Verb: "start"}),
				at(6, &engine.ActionOutcome{Action: id, Step: "start-secondary", Site: "secondary", Domain: fmt.Sprintf("x-%d", i), Verb: "start", OK: true}))
		}
		b.StartTimer()
		for i := 0; i < len(evs); i += maxBatch {
			m.Update(eventsMsg{evs[i:min(len(evs), i+maxBatch)]})
			m.View()
		}
	}
}

func TestStartGroupBeingWorked(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 120, 40)
	feed(m, []engine.Event{
		at(0, &engine.StepChanged{Step: "start-secondary", State: engine.StepRunning}),
		at(1, &engine.ActionIntent{Action: 1, Step: "start-secondary", Site: "secondary", Domain: "db-01", Verb: "start"}),
		at(2, &engine.ActionOutcome{Action: 1, Step: "start-secondary", Site: "secondary", Domain: "db-01", Verb: "start", OK: true}),
		at(2, &engine.ActionIntent{Action: 2, Step: "start-secondary", Site: "secondary", Domain: "app-01", Verb: "start"}),
	})
	if v := m.View(); !strings.Contains(v, "1/4 started · 1 in progress · group 2/3 (app-01, app-02)") {
		t.Errorf("no progress with its group:\n%s", v)
	}
}

func TestKeyHelpIsTheHelpScreen(t *testing.T) {
	f := newFake(t)
	m := newModel(t, f, 120, 40)
	m.Update(runes("?"))
	screen := m.View()
	for _, line := range strings.Split(strings.TrimRight(KeyHelp(), "\n"), "\n") {
		words := strings.Fields(line)
		if !strings.Contains(strings.Join(strings.Fields(screen), " "), strings.Join(words, " ")) {
			t.Errorf("--help says %q, the help screen does not:\n%s", line, screen)
		}
	}
	for _, want := range []string{"r retry", "m mark done", "s skip", "a abort", "space tick", "y proceed"} {
		if !strings.Contains(KeyHelp(), want) {
			t.Errorf("KeyHelp lacks %q:\n%s", want, KeyHelp())
		}
	}
}

func TestPreflightHelp(t *testing.T) {
	m := newPreflight(true)
	if !strings.Contains(lastLine(m.View()), "? help") {
		t.Fatalf("preflight footer: %q", lastLine(m.View()))
	}
	m.Update(runes("?"))
	if !strings.Contains(m.View(), "esc       cancel") {
		t.Fatalf("? on the preflight:\n%s", m.View())
	}
	m.Update(runes("x"))
	if strings.Contains(m.View(), "esc       cancel") {
		t.Fatal("a key did not close the help")
	}
	u := newPreflight(false)
	u.Update(runes("?"))
	if u.showHelp {
		t.Error("? typed into the reason opened the help")
	}
	u.Update(tea.KeyMsg{Type: tea.KeyF1})
	if !u.showHelp {
		t.Error("f1 did not open the help")
	}
}

func TestReasonFirst(t *testing.T) {
	for in, want := range map[string]string{
		"site primary (qemu+ssh://kvm1/system), domain web-01: shutdown: timed out after 2m": "shutdown: timed out after 2m · site primary (qemu+ssh://kvm1/system), domain web-01",
		"site primary (qemu+ssh://kvm1/system): connection refused: check the link":          "connection refused: check the link · site primary (qemu+ssh://kvm1/system)",
		"command exited 3": "command exited 3",
		"site x":           "site x",
	} {
		if got := reasonFirst(in); got != want {
			t.Errorf("reasonFirst(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPreflightGoldens(t *testing.T) {
	report := `Plan of annual-pra-test in test mode
  1 announce          manual, 2 checklist items          gate: none
  2 secondary-ready   check db-01, app-01, app-02, web-01 at secondary: shutoff
  3 stop-primary      shutdown web-01, app-02, app-01, db-01 at primary  gate: typed
  4 start-secondary   start db-01 | app-01, app-02 | web-01 at secondary  gate: confirm
RTO target 4h00m

Readiness
  ✓ primary answers (sim://primary), 4 domains
  ✗ secondary does not answer: site unreachable: sim://secondary does not answer at all, check the link`
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		for _, ready := range []bool{true, false} {
			m := NewPreflightModel(report, ready, asciiRenderer())
			m.modeLabel = "test"
			m.Update(tea.WindowSizeMsg{Width: size.w, Height: size.h})
			name := fmt.Sprintf("preflight-ready-%v-%s", ready, itoaSize(size.w, size.h))
			v := m.View()
			for i, l := range strings.Split(v, "\n") {
				if lipgloss.Width(l) > size.w {
					t.Errorf("%s: line %d is %d wide", name, i+1, lipgloss.Width(l))
				}
			}
			golden(t, name, v)
		}
	}
}

// TestModelsLeaveNoGoroutines: the sender a model starts ends with it.
func TestModelsLeaveNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 50 {
		f := newFake(t)
		m := NewRunModel(f, Config{Renderer: asciiRenderer(), NoTick: true})
		m.Init()
		m.Stop()
		m.Stop() // twice is harmless
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines before 50 models, %d after they stopped", before, n)
	}
}

func TestSkipPromptEndsWithItsFailure(t *testing.T) {
	m, f := failureModel(t)
	m.Update(runes("s"))
	// Another console answered: the failure is decided, the step retried.
	feed(m, []engine.Event{
		at(50, &engine.FailureDecided{Step: "stop-primary", Choice: engine.ChoiceRetry, Operator: "bob"}),
		at(50, &engine.StepChanged{Step: "stop-primary", State: engine.StepRunning}),
	})
	if m.Mode() != ModeRun {
		t.Fatalf("mode %s after the failure was answered elsewhere", m.Mode())
	}
	feed(m, []engine.Event{at(60, &engine.FailureOpened{Step: "stop-primary", Error: "again", Choices: []engine.Choice{engine.ChoiceRetry, engine.ChoiceSkip}})})
	if m.Mode() != ModeFailure {
		t.Fatalf("a new failure opened %s, not its own question", m.Mode())
	}
	if len(f.inputs()) != 0 {
		t.Errorf("sent %v", f.inputs())
	}
}

// TestAttachedEngineGone: a console attached to a detached engine that dies
// says the engine is gone, since when (the clock still counting), and how
// to carry on; it answers no gate any more.
func TestAttachedEngineGone(t *testing.T) {
	f := newFake(t)
	now := t0.Add(75 * time.Second)
	m := NewRunModel(f, Config{DB: "/var/lib/repli/audit.db", Renderer: asciiRenderer(), NoTick: true, Now: func() time.Time { return now }})
	t.Cleanup(m.Stop)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	feed(m, midRun())
	if m.Mode() != ModeGate {
		t.Fatalf("mode %s before the engine went", m.Mode())
	}
	m.Update(holderMsg{HolderStatus{Gone: true, Why: "its engine stopped before the run's end; carry on with: repli resume 7", Since: t0.Add(44 * time.Second)}})
	m.Update(closedMsg{})
	v := m.View()
	checkSize(t, v, 80, 24)
	if !strings.Contains(v, "ENGINE GONE since 03:00:44 (31s ago)") || !strings.Contains(v, "repli resume 7") || strings.Contains(v, "DRIVER GONE") {
		t.Errorf("attached console with its engine gone:\n%s", v)
	}
	if m.Mode() == ModeGate {
		t.Errorf("the gate is still answerable with no engine behind it")
	}
	if _, cmd := m.Update(tickMsg(now.Add(time.Second))); cmd == nil {
		t.Errorf("the clock stopped: 'since' would stand still")
	}
}
