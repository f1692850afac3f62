package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/evidence"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
)

const historyRunbook = `version: 1
name: erp-failover
title: ERP to the secondary site
rto: 1h
sites:
  primary:
    uri: %PRIMARY%
  secondary:
    uri: %SECONDARY%
steps:
  - id: announce
    title: Announce the test
    manual: Tell the users the ERP stops for the test.
  - id: stop-primary
    title: Stop the ERP at the primary site
    gate: confirm
    rto: start
    shutdown:
      site: primary
      domains: [erp-db]
  - id: start-secondary
    title: Start it at the secondary site
    rto: stop
    start:
      site: secondary
      domains: [erp-db]
`

// historyTrail is a real audit trail of three runs of one runbook at fixed
// times: a drill in 2025, the same drill a year later (slower, its gate
// waited longer), and one on simulated sites. It returns the trail's path,
// the store, and the runs as the browser lists them.
func historyTrail(t *testing.T) (string, *store.Store, []HistoryRun) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	type drill struct {
		start     time.Time
		sim       bool
		gateWait  time.Duration
		stopTook  time.Duration
		startTook time.Duration
	}
	drills := []drill{
		{time.Date(2025, 6, 3, 9, 0, 0, 0, time.UTC), false, 2 * time.Minute, 3 * time.Minute, 5 * time.Minute},
		{time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC), false, 9 * time.Minute, 4 * time.Minute, 12 * time.Minute},
		{time.Date(2026, 6, 1, 14, 0, 0, 0, time.UTC), true, 30 * time.Second, time.Minute, time.Minute},
	}
	var out []HistoryRun
	for _, d := range drills {
		primary, secondary := "qemu+ssh://kvm-a/system", "qemu+ssh://kvm-b/system"
		if d.sim {
			primary, secondary = "sim://primary", "sim://secondary"
		}
		src := strings.NewReplacer("%PRIMARY%", primary, "%SECONDARY%", secondary).Replace(historyRunbook)
		rb, diags := runbooks.Parse("runbooks/erp.yaml", []byte(src))
		if rb == nil || diags.HasErrors() {
			t.Fatalf("test runbook: %v", diags)
		}
		id, err := s.CreateRun(ctx, store.RunInfo{Runbook: rb.Name, Mode: "test", Operator: "claire", StartedAt: d.start})
		if err != nil {
			t.Fatal(err)
		}
		at := d.start
		var evs []engine.Event
		add := func(after time.Duration, ev engine.Event) {
			at = at.Add(after)
			*ev.EventMeta() = engine.Meta{RunID: id, Seq: int64(len(evs) + 1), At: at}
			evs = append(evs, ev)
		}
		add(0, &engine.RunStarted{Runbook: rb.Name, Title: rb.Title, File: "runbooks/erp.yaml", SHA256: rb.SHA256(), Source: src, Mode: "test",
			Operator: "claire", Host: "bastion-1", Version: "v1.0.0", Sites: map[string]string{"primary": primary, "secondary": secondary},
			RTOTarget: time.Hour, TimeScale: 1})
		add(0, &engine.StepChanged{Step: "announce", State: engine.StepWaiting})
		add(0, &engine.GateOpened{Step: "announce", Gate: "manual", Prompt: "Tell the users the ERP stops for the test."})
		add(time.Minute, &engine.GateDecided{Step: "announce", Approved: true, Operator: "claire", Waited: time.Minute})
		add(0, &engine.StepChanged{Step: "announce", State: engine.StepSucceeded})
		add(0, &engine.StepChanged{Step: "stop-primary", State: engine.StepWaiting})
		add(0, &engine.GateOpened{Step: "stop-primary", Gate: "confirm", Prompt: "Stop erp-db at the primary site?", Targets: []string{"erp-db"}})
		add(d.gateWait, &engine.GateDecided{Step: "stop-primary", Approved: true, Operator: "claire", Waited: d.gateWait})
		add(0, &engine.RTOStarted{Step: "stop-primary"})
		add(0, &engine.StepChanged{Step: "stop-primary", State: engine.StepRunning})
		add(0, &engine.ActionIntent{Action: 1, Step: "stop-primary", Site: "primary", URI: primary, Domain: "erp-db", Verb: "shutdown"})
		add(d.stopTook, &engine.ActionOutcome{Action: 1, Step: "stop-primary", Site: "primary", Domain: "erp-db", Verb: "shutdown", OK: true, Duration: d.stopTook})
		add(0, &engine.StepChanged{Step: "stop-primary", State: engine.StepSucceeded})
		add(0, &engine.StepChanged{Step: "start-secondary", State: engine.StepRunning})
		add(0, &engine.ActionIntent{Action: 2, Step: "start-secondary", Site: "secondary", URI: secondary, Domain: "erp-db", Verb: "start"})
		add(d.startTook, &engine.ActionOutcome{Action: 2, Step: "start-secondary", Site: "secondary", Domain: "erp-db", Verb: "start", OK: true, Duration: d.startTook})
		add(0, &engine.StepChanged{Step: "start-secondary", State: engine.StepSucceeded})
		rto := d.stopTook + d.startTook
		add(0, &engine.RTOStopped{Step: "start-secondary", Achieved: rto, Target: time.Hour})
		add(0, &engine.RunEnded{Outcome: engine.OutcomeSucceeded, Duration: at.Sub(d.start), RTOTarget: time.Hour, RTOAchieved: rto})
		for _, ev := range evs {
			if err := s.Append(ctx, ev); err != nil {
				t.Fatalf("append %s: %v", ev.Kind(), err)
			}
		}
		out = append(out, HistoryRun{ID: id, Runbook: rb.Name, Title: rb.Title, Mode: "test", Operator: "claire", Host: "bastion-1",
			Outcome: "succeeded", Started: d.start, Duration: at.Sub(d.start), RTO: rto, RTOTarget: time.Hour, Simulated: d.sim})
	}
	return path, s, out
}

// trailSource reads a run's view and a comparison from the real trail, as
// repli history does (evidence.Load, WriteShow, Compare), at a fixed "now".
func trailSource(t *testing.T, s *store.Store) HistorySource {
	ctx := context.Background()
	runView, compare := evidence.Viewers(ctx, s, evidence.Options{Now: time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC), RepliVersion: "v1.0.0"})
	return HistorySource{RunView: runView, Compare: compare}
}

// press gives the model keys, running the commands they return (a view's
// loading) to completion, as the program would.
func press(t *testing.T, m *HistoryModel, keys ...tea.KeyMsg) {
	t.Helper()
	for _, k := range keys {
		_, cmd := m.Update(k)
		runCmd(m, cmd)
	}
}

func runCmd(m *HistoryModel, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case historyLoaded:
		m.Update(msg)
	case tea.BatchMsg:
		for _, c := range msg {
			runCmd(m, c)
		}
	}
}

var (
	keyDown = tea.KeyMsg{Type: tea.KeyDown}
	keyPgDn = tea.KeyMsg{Type: tea.KeyPgDown}
)

func newHistory(t *testing.T) (*HistoryModel, []HistoryRun) {
	t.Helper()
	path, s, runs := historyTrail(t)
	m := NewHistoryModel(filepath.Base(path), runs, trailSource(t, s), asciiRenderer())
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	return m, runs
}

func TestHistoryBrowserGoldens(t *testing.T) {
	m, _ := newHistory(t)
	v := m.View()
	checkSize(t, v, 80, 24)
	golden(t, "history-list-80x24", v)
	if h, r := strings.Index(v, "⚠ Simulated sites"), strings.Index(v, "   3 2026-06-01"); h < 0 || r < h {
		t.Errorf("the simulated run is not listed apart, under its heading:\n%s", v)
	}

	// The help screen: every key, from the key map.
	press(t, m, runes("?"))
	if v := m.View(); !strings.Contains(v, "m/space mark a run") || !strings.Contains(v, "t show or hide the runs on simulated sites") || !strings.Contains(v, "since:YYYY-MM-DD") {
		t.Errorf("help screen:\n%s", v)
	}
	press(t, m, keyEsc)

	// Open the newest real run: its view, with the timeline, scrollable.
	press(t, m, keyEnter)
	v = m.View()
	checkSize(t, v, 80, 24)
	golden(t, "history-run-80x24", v)
	for _, want := range []string{"run 2", "stop-primary", "start-secondary", "RTO"} {
		if !strings.Contains(v, want) {
			t.Errorf("the run's view lacks %q:\n%s", want, v)
		}
	}
	if !strings.Contains(v, "lines 1–20 of") {
		t.Errorf("the run's view does not start at its first line:\n%s", v)
	}
	press(t, m, keyPgDn)
	if v2 := m.View(); v2 == v || strings.Contains(v2, "lines 1–") || !strings.Contains(v2, "Anchor: ") {
		t.Errorf("pgdn did not scroll the run's view:\n%s", v2)
	}

	// Back to the list; mark run 2, move to run 1, compare: A is the
	// earlier run (1), whichever was marked.
	press(t, m, keyEsc, keySpace, keyDown, runes("c"))
	v = m.View()
	checkSize(t, v, 80, 24)
	golden(t, "history-compare-80x24", v)
	if !strings.Contains(v, "run 1 beside run 2") || !strings.Contains(v, "A: run 1") {
		t.Errorf("compare view:\n%s", v)
	}
}

func TestHistoryListGolden120(t *testing.T) {
	m, _ := newHistory(t)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	v := m.View()
	checkSize(t, v, 120, 40)
	golden(t, "history-list-120x40", v)
	press(t, m, keyEnter)
	v = m.View()
	checkSize(t, v, 120, 40)
	golden(t, "history-run-120x40", v)
}

func TestHistoryFilterSortToggle(t *testing.T) {
	t.Parallel()
	m, _ := newHistory(t)
	ids := func() (out []int64) {
		for _, i := range m.shown {
			out = append(out, m.runs[i].ID)
		}
		return out
	}
	same := func(got []int64, want ...int64) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}
	if got := ids(); !same(got, 2, 1, 3) {
		t.Fatalf("initial order %v, want real runs newest first, then the simulated: [2 1 3]", got)
	}
	press(t, m, runes("s"))
	if got := ids(); !same(got, 1, 2, 3) {
		t.Errorf("oldest first: %v", got)
	}
	press(t, m, runes("t"))
	if got := ids(); !same(got, 1, 2) || !strings.Contains(m.View(), "simulated hidden") {
		t.Errorf("simulated hidden: %v\n%s", got, m.View())
	}
	press(t, m, runes("t"))
	for _, tt := range []struct {
		q    string
		want []int64
	}{
		{"since:2026-01-01", []int64{2, 3}},
		{"date:2025", []int64{1}},
		{"simulated", []int64{3}},
		{"mode:planned", nil},
		{"outcome:succ erp", []int64{1, 2, 3}},
	} {
		press(t, m, runes("/"))
		m.filter.SetValue(tt.q)
		press(t, m, keyEnter)
		if got := ids(); !same(got, tt.want...) {
			t.Errorf("filter %q: %v, want %v", tt.q, ids(), tt.want)
		}
		press(t, m, keyEsc)
	}
	if got := ids(); !same(got, 1, 2, 3) {
		t.Errorf("esc did not clear the filter: %v", got)
	}
	// c without a marked run says what to do; q quits.
	press(t, m, runes("c"))
	if !strings.Contains(m.View(), "mark a run with space first") {
		t.Errorf("c without a mark:\n%s", m.View())
	}
	if _, cmd := m.Update(runes("q")); cmd == nil {
		t.Error("q does not quit")
	} else if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Error("q returns a command that is not quit")
	}
}

func TestHistoryRunWithControlCharacters(t *testing.T) {
	t.Parallel()
	runs := []HistoryRun{{ID: 1, Runbook: "evil\x1b[2Jname", Mode: "test\x07", Outcome: "failed", Started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}}
	src := HistorySource{RunView: func(int64, int) (string, error) { return "line \x1b]0;title\x07 here\n", nil }}
	m := NewHistoryModel("audit.db", runs, src, asciiRenderer())
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if v := m.View(); strings.ContainsAny(v, "\x1b\x07") {
		t.Errorf("raw control characters in the list: %q", v)
	}
	press(t, m, keyEnter)
	if v := m.View(); strings.ContainsAny(v, "\x1b\x07") || !strings.Contains(v, "here") {
		t.Errorf("raw control characters in the run's view: %q", v)
	}
}

// TestHistoryDropsALateView: a view read for a run the operator has left
// (esc, then another run opened) arrives late and is not shown.
func TestHistoryDropsALateView(t *testing.T) {
	t.Parallel()
	runs := []HistoryRun{{ID: 1, Runbook: "a", Outcome: "succeeded"}, {ID: 2, Runbook: "b", Outcome: "failed"}}
	src := HistorySource{RunView: func(id int64, _ int) (string, error) { return fmt.Sprintf("the view of run %d", id), nil }}
	m := NewHistoryModel("audit.db", runs, src, asciiRenderer())
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	_, first := m.Update(keyEnter) // opens the cursor's run, not read yet
	press(t, m, keyEsc, keyDown, keyEnter)
	want := m.View()
	m.Update(first())
	if got := m.View(); got != want || strings.Contains(got, "the view of run "+strconv.FormatInt(m.runs[m.shown[0]].ID, 10)) {
		t.Errorf("a late view replaced the open one:\n%s", got)
	}
}
