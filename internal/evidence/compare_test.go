package evidence

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/internal/report"
)

func TestDiffRunbooksWithoutTheRunbooks(t *testing.T) {
	t.Parallel()
	a := &report.Doc{Timeline: []report.Step{{ID: "announce", Kind: "manual", Title: "Announce"}, {ID: "stop", Kind: "shutdown"}, {ID: "old", Kind: "exec"}}}
	b := &report.Doc{Timeline: []report.Step{{ID: "announce", Kind: "manual", Title: "Announce the test"}, {ID: "stop", Kind: "shutdown"}, {ID: "new", Kind: "start"}}}
	d := diffRunbooks(nil, nil, a, b)
	want := RunbookDiff{Added: []string{"new"}, Removed: []string{"old"}, Changed: []StepChanged{{ID: "announce", Fields: []string{"title"}}}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("diff = %+v, want %+v", d, want)
	}
	if d := diffRunbooks(nil, nil, a, a); !d.Same {
		t.Errorf("a runbook against itself: %+v", d)
	}
	swapped := &report.Doc{Timeline: []report.Step{a.Timeline[1], a.Timeline[0], a.Timeline[2]}}
	if d := diffRunbooks(nil, nil, a, swapped); d.Same || len(d.Changed) != 1 || d.Changed[0].ID != "(order)" {
		t.Errorf("the same steps in another order: %+v", d)
	}
}

func TestDeltaSigns(t *testing.T) {
	t.Parallel()
	m := deltaOf(report.Measure{Target: time.Hour, Achieved: 50 * time.Minute, Measured: true}, report.Measure{Target: time.Hour, Achieved: 62 * time.Minute, Measured: true})
	if got := fmtDelta(m.DeltaS); got != "+12m" {
		t.Errorf("delta = %q, want +12m", got)
	}
	if got := fmtDelta(secs(-90 * time.Second)); got != "−1m30s" {
		t.Errorf("delta = %q, want −1m30s", got)
	}
	var b strings.Builder
	c := Comparison{RTO: m}
	if err := c.WriteText(&b); err != nil || !strings.Contains(b.String(), "RTO: A 50m (target 1h00m") {
		t.Errorf("text %q, %v", b.String(), err)
	}
}
