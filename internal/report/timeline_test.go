package report

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestTimelineTextFitsAndScales(t *testing.T) {
	t.Parallel()
	doc := Sample()
	for _, width := range []int{48, 80, 100, 132} {
		lines := TimelineText(doc, width)
		if len(lines) != len(doc.Timeline)+3 {
			t.Fatalf("width %d: %d lines, want header + %d steps + RTO + legend", width, len(lines), len(doc.Timeline))
		}
		for i, l := range lines {
			if n := utf8.RuneCountInString(l); n > width {
				t.Errorf("width %d: line %d is %d runes: %q", width, i, n, l)
			}
		}
		for i, s := range doc.Timeline {
			if !strings.Contains(lines[i+1], clip(s.ID, 16)) {
				t.Errorf("width %d: line for %s is %q", width, s.ID, lines[i+1])
			}
		}
	}
	lines := TimelineText(doc, 80)
	row := func(id string) string {
		for _, l := range lines {
			if strings.Contains(l, " "+id+" ") {
				return l
			}
		}
		t.Fatalf("no line for %s in\n%s", id, strings.Join(lines, "\n"))
		return ""
	}
	// A gate-only step is drawn as waiting, an exec as work, a retried
	// exec with its failure gate as both.
	if l := row("approve-failover"); !strings.Contains(l, "░") || strings.Contains(l, "█") {
		t.Errorf("two-person gate should be all wait: %q", l)
	}
	if l := row("restore-archives"); strings.Contains(l, "░") || !strings.Contains(l, "█") {
		t.Errorf("restore should be all work: %q", l)
	}
	if l := row("promote-db"); !strings.Contains(l, "░") || !strings.Contains(l, "█") || !strings.Contains(l, "↻1") {
		t.Errorf("promote-db should show work, its failure gate and one retry: %q", l)
	}
	if l := row("stop-primary"); !strings.Contains(l, "⚡") {
		t.Errorf("stop-primary should mark its forced shutdown: %q", l)
	}
	if l := row("reverse-replica…"); !strings.Contains(l, "skipped") {
		t.Errorf("skipped step not marked: %q", l)
	}
	// To scale: restore-archives (12m45s) is about 2.8 times promote-db's 4m30s.
	cells := func(l string) int { return strings.Count(l, "█") + strings.Count(l, "░") }
	a, b := cells(row("restore-archives")), cells(row("promote-db"))
	if ratio := float64(a) / float64(b); ratio < 2 || ratio > 3.7 {
		t.Errorf("restore-archives has %d cells, promote-db %d: not to scale", a, b)
	}
	if last := lines[len(lines)-2]; !strings.Contains(last, "▲") || !strings.Contains(last, "pass") {
		t.Errorf("RTO line: %q", last)
	}
}

func TestTimelineTextNotExecutedAndHostileIDs(t *testing.T) {
	t.Parallel()
	doc := Sample()
	doc.Timeline = append(doc.Timeline, Step{Order: 13, ID: "archive\x1b[31m-logs", Result: "not_executed", Reason: "run ended first"})
	lines := TimelineText(doc, 80)
	got := strings.Join(lines, "\n")
	if strings.ContainsRune(got, '\x1b') {
		t.Fatalf("escape character reached the terminal:\n%s", got)
	}
	if !strings.Contains(got, "archive␛[31m-lo") || !strings.Contains(got, "not run") {
		t.Errorf("not-executed step missing or not made visible:\n%s", got)
	}
}

func TestTimelineTextEmptyRun(t *testing.T) {
	t.Parallel()
	doc := &Doc{Identification: Identification{Started: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	if lines := TimelineText(doc, 80); len(lines) != 2 {
		t.Errorf("empty run: %q", lines)
	}
}
