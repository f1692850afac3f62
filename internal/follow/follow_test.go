package follow

import (
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/ui"
)

func TestHolderLine(t *testing.T) {
	t.Parallel()
	if got := HolderLine(ui.HolderStatus{Who: "alice@console-a"}); got != "driven by alice@console-a" {
		t.Errorf("a present driver: %q", got)
	}
	since := time.Date(2025, 11, 30, 12, 0, 0, 0, time.Local)
	got := HolderLine(ui.HolderStatus{Gone: true, Why: "heartbeat stale", Since: since})
	if !strings.Contains(got, "heartbeat stale") || !strings.Contains(got, "12:00:00") || !strings.Contains(got, "nobody drives this run") {
		t.Errorf("a gone driver: %q", got)
	}
}

func TestPrintEndsWhenTheEventsEnd(t *testing.T) {
	t.Parallel()
	w := New(nil, nil, 1)
	close(w.events)
	var b strings.Builder
	w.Print(&b) // returns: the follower closed its events
	if b.Len() != 0 {
		t.Errorf("printed %q with no events", b.String())
	}
}
