package completion

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
)

func TestRunIDsNewestFirstAndUnfinished(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 11, 30, 14, 0, 0, 0, time.Local)
	runs := []store.Run{
		{ID: 9, Runbook: "drill", Mode: "test", StartedAt: at, Outcome: "succeeded", EndedAt: &at},
		{ID: 12, Runbook: "drill\x1b[2J", Mode: "planned", StartedAt: at, Outcome: "running"},
		{ID: 19, Runbook: "other", Mode: "test", StartedAt: at, Outcome: "failed", EndedAt: &at},
	}
	got := RunIDs(runs, "1", false)
	want := []string{"19\tother · test · 2025-11-30 14:00 · failed", "12\tdrill?[2J · planned · 2025-11-30 14:00 · not ended"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RunIDs = %q, want %q", got, want)
	}
	if got := RunIDs(runs, "", true); len(got) != 1 || !strings.HasPrefix(got[0], "12\t") {
		t.Errorf("unfinished runs = %q, want run 12 only", got)
	}
	if runs[0].ID != 9 {
		t.Error("RunIDs reordered the caller's runs")
	}
}

func TestSitesOfARunbook(t *testing.T) {
	t.Parallel()
	rb := &runbooks.Runbook{Sites: []*runbooks.Site{{Name: "primary", URI: "qemu:///system"}, {Name: "dr"}}}
	got := Sites(rb, nil, "")
	want := []string{"primary=\tqemu:///system", "dr=\tno URI yet"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sites = %q, want %q", got, want)
	}
	if got := Sites(rb, nil, "d"); len(got) != 1 {
		t.Errorf("Sites(d) = %q", got)
	}
}
