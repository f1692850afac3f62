package history

import (
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/store"
)

func TestFilterSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 11, 30, 12, 0, 0, 0, time.UTC)
	for since, want := range map[string]time.Time{
		"30d":                  now.AddDate(0, 0, -30),
		"12h":                  now.Add(-12 * time.Hour),
		"2025-11-01T08:00:00Z": time.Date(2025, 11, 1, 8, 0, 0, 0, time.UTC),
	} {
		f := Filter{Since: since}
		if err := f.Parse(now); err != nil || !f.sinceT.Equal(want) {
			t.Errorf("--since %s: %v, %v; want %v", since, f.sinceT, err, want)
		}
	}
	f := Filter{Since: "last week"}
	if err := f.Parse(now); err == nil || !strings.Contains(err.Error(), "30d") {
		t.Errorf("--since last week: %v, want an error with examples", err)
	}
}

func TestFilterKeep(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 11, 30, 12, 0, 0, 0, time.UTC)
	sim := Run{Run: store.Run{Runbook: "drill", Mode: "test", StartedAt: at}, Standing: store.Standing{Interrupted: true},
		Facts: store.StartFacts{Sites: map[string]string{"a": "sim://a"}}}
	real := Run{Run: store.Run{Runbook: "drill", Mode: "planned", StartedAt: at.AddDate(0, -2, 0), Outcome: "succeeded", EndedAt: &at},
		Facts: store.StartFacts{Sites: map[string]string{"a": "qemu+ssh://kvm1/system"}}}
	cases := []struct {
		f         Filter
		sim, real bool
	}{
		{Filter{}, true, true},
		{Filter{Simulated: true}, true, false},
		{Filter{Outcome: "interrupted"}, true, false},
		{Filter{Mode: "planned"}, false, true},
		{Filter{Runbook: "other"}, false, false},
		{Filter{sinceT: at.AddDate(0, -1, 0)}, true, false},
	}
	for i, c := range cases {
		if got := c.f.Keep(sim); got != c.sim {
			t.Errorf("case %d: Keep(simulated interrupted run) = %v", i, got)
		}
		if got := c.f.Keep(real); got != c.real {
			t.Errorf("case %d: Keep(real run) = %v", i, got)
		}
	}
	if row := ToRow(sim, at, at.Add(time.Minute)); row.Outcome != "interrupted" || row.DurationS != 60 || !row.Simulated {
		t.Errorf("ToRow(interrupted) = %+v; want interrupted, 60 s to its last event, simulated", row)
	}
}
