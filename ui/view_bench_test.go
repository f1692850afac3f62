package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

// scaleModel is the run screen of a 500-step runbook whose first step,
// running, acts on 5,000 domains (4,000 done), after 10,000 log lines, with
// both sites' 5,000 domains known: what make bench's View() figure draws.
func scaleModel(tb testing.TB, w, h int) *RunModel {
	tb.Helper()
	const steps, domains, logs = 500, 5000, 10000
	doms := make([]string, domains)
	for i := range doms {
		doms[i] = fmt.Sprintf("vm-%04d", i+1)
	}
	var src strings.Builder
	fmt.Fprintf(&src, "version: 1\nname: scale\nrto: 4h\nsites:\n  primary: {uri: sim://primary}\n  secondary: {uri: sim://secondary}\nsteps:\n")
	fmt.Fprintf(&src, "  - id: stop-all\n    rto: start\n    shutdown: {site: primary, max_parallel: 16, domains: [%s]}\n", strings.Join(doms, ", "))
	for i := 1; i < steps; i++ {
		fmt.Fprintf(&src, "  - id: start-%03d\n    start: {site: secondary, domains: [%s]}\n", i, doms[i%domains])
	}
	src.WriteString("    rto: stop\n")
	rb, diags := runbooks.Parse("scale.yaml", []byte(src.String()))
	if rb == nil || diags.HasErrors() {
		tb.Fatalf("scale runbook: %v", diags)
	}
	if len(rb.Steps) != steps {
		tb.Fatalf("scale runbook has %d steps, want %d", len(rb.Steps), steps)
	}
	f := &fakeDriver{rb: rb, events: make(chan engine.Event, 1)}
	m := NewRunModel(f, Config{DB: "/var/lib/repli/audit.db", Operator: "alice", Renderer: asciiRenderer(), NoTick: true, Now: func() time.Time { return t0.Add(time.Hour) }})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	evs := []engine.Event{
		at(0, &engine.RunStarted{Runbook: "scale", Mode: "test", Operator: "alice"}),
		at(0, &engine.StepChanged{Step: "stop-all", State: engine.StepRunning}),
		at(0, &engine.RTOStarted{Step: "stop-all"}),
	}
	for i, d := range doms {
		id := int64(i + 1)
		evs = append(evs, at(1, &engine.ActionIntent{Action: id, Step: "stop-all", Site: "primary", Domain: d, Verb: "shutdown"}))
		if i < 4000 {
			evs = append(evs, at(2, &engine.ActionOutcome{Action: id, Step: "stop-all", Site: "primary", Domain: d, Verb: "shutdown", OK: true}))
		}
	}
	for i := range logs {
		evs = append(evs, at(3, &engine.Logged{Step: "stop-all", Level: "info", Message: fmt.Sprintf("log line %d of the shutdown of %s", i, doms[i%domains])}))
	}
	for i := 0; i < len(evs); i += maxBatch {
		m.Update(eventsMsg{evs[i:min(len(evs), i+maxBatch)]})
	}
	m.Update(siteMsg{siteStatus("primary", domains, func(i int) bool { return i >= 4000 })})
	m.Update(siteMsg{siteStatus("secondary", domains, func(int) bool { return false })})
	return m
}

// TestScaleModelIsWhatTheBenchmarkDraws keeps BenchmarkViewScale honest:
// the screen it times shows the big step working and the last log line.
func TestScaleModelIsWhatTheBenchmarkDraws(t *testing.T) {
	m := scaleModel(t, 80, 24)
	v := m.View()
	checkSize(t, v, 80, 24)
	for _, want := range []string{"stop-all", "4000/5000", "log line 9999"} {
		if !strings.Contains(v, want) {
			t.Errorf("the 500-step, 5,000-domain screen lacks %q:\n%s", want, v)
		}
	}
}

// BenchmarkViewScale: one frame at 80×24 of 500 steps, a step acting on
// 5,000 domains, after 10,000 log lines (make bench reports it).
func BenchmarkViewScale(b *testing.B) {
	m := scaleModel(b, 80, 24)
	m.View()
	b.ResetTimer()
	for b.Loop() {
		m.View()
	}
}
