package evidence

import (
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

func action(step, site, dom, verb string, r engine.ActionResult) *engine.ActionProgress {
	return &engine.ActionProgress{Intent: &engine.ActionIntent{Step: step, Site: site, Domain: dom, Verb: verb}, Result: r}
}

func TestForcedShutdowns(t *testing.T) {
	t.Parallel()
	ok, failed := engine.ActionOK, engine.ActionFailed
	tests := []struct {
		name string
		acts []*engine.ActionProgress
		want string
	}{
		{"graceful", []*engine.ActionProgress{action("s", "p", "a", "shutdown", ok)}, ""},
		{"forced", []*engine.ActionProgress{action("s", "p", "a", "shutdown", failed), action("s", "p", "a", "destroy", ok)}, "a"},
		{"destroy of another domain", []*engine.ActionProgress{action("s", "p", "a", "shutdown", failed), action("s", "p", "b", "destroy", ok)}, ""},
		{"destroy at another site", []*engine.ActionProgress{action("s", "p", "a", "shutdown", failed), action("s", "q", "a", "destroy", ok)}, ""},
		{"a planned destroy", []*engine.ActionProgress{action("s", "p", "a", "destroy", ok)}, ""},
		{"two forced", []*engine.ActionProgress{
			action("s", "p", "b", "shutdown", failed), action("s", "p", "b", "destroy", ok),
			action("s", "p", "a", "shutdown", failed), action("s", "p", "a", "destroy", ok)}, "a,b"},
	}
	for _, tt := range tests {
		if got := strings.Join(ForcedShutdowns(tt.acts), ","); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestFindingsFromTaggedNotes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	end := at.Add(time.Hour)
	note := func(text string, when time.Time) *engine.NoteAdded {
		n := &engine.NoteAdded{Operator: "claire", Text: text}
		n.At = when
		return n
	}
	m := &mapper{run: store.Run{EndedAt: &end}, p: &engine.Progress{Notes: []*engine.NoteAdded{
		note("replica lag 0s", at),
		note("Finding: app-02 ignores ACPI shutdown; action: install acpid; owner: Jean Dupont; due: 2027-01-15", at),
		note("finding: DNS TTL too long", end.Add(time.Hour)),
	}}}
	fs := m.findings()
	if len(fs) != 2 {
		t.Fatalf("%d findings: %+v", len(fs), fs)
	}
	f := fs[0]
	if f.ID != "F1" || f.Text != "app-02 ignores ACPI shutdown" || f.Action != "install acpid" || f.Owner != "Jean Dupont" ||
		!f.Due.Equal(time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)) || f.AfterRun || f.By != "claire" {
		t.Errorf("first finding: %+v", f)
	}
	if fs[1].Text != "DNS TTL too long" || !fs[1].AfterRun {
		t.Errorf("second finding: %+v", fs[1])
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	end := time.Now()
	for _, tt := range []struct {
		run  store.Run
		st   store.Standing
		want string
	}{
		{store.Run{Outcome: engine.OutcomeSucceeded, EndedAt: &end}, store.Standing{}, "succeeded"},
		{store.Run{Outcome: engine.OutcomeRunning}, store.Standing{}, "running"},
		{store.Run{Outcome: engine.OutcomeRunning}, store.Standing{Interrupted: true}, "interrupted"},
	} {
		if got := Outcome(tt.run, tt.st); got != tt.want {
			t.Errorf("Outcome(%v, %v) = %s, want %s", tt.run.Outcome, tt.st, got, tt.want)
		}
	}
}
