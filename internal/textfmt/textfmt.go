// Package textfmt holds the few ways repli writes times, durations and
// outcomes as text, so that the terminal views, the tables and the TUI say
// them alike. It imports nothing of repli's: the TUI, the evidence views
// and the commands all use it.
package textfmt

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Duration renders a duration the way an operator reads a clock:
// 42s, 3m07s, 30m, 1h02m. A negative duration is 0s.
func Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour && int(d.Seconds())%60 == 0:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// Clock renders elapsed time as H:MM:SS, for the RTO clock.
func Clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Seconds())
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}

// Stamp is a moment in UTC to the second (2025-11-30 14:02:07Z), — when
// it is unknown.
func Stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// TimeOfDay is a moment's UTC time of day (14:02:07), — when it is unknown.
func TimeOfDay(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("15:04:05")
}

// OrDash is s, or — when s is empty.
func OrDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// Outcome is a run's outcome as glyph and word, never colour alone;
// interrupted is a run whose console is gone.
func Outcome(o string) string {
	switch o {
	case "succeeded":
		return "✓ succeeded"
	case "failed":
		return "✗ failed"
	case "aborted":
		return "✗ aborted"
	case "running":
		return "▶ running"
	case "interrupted":
		return "⏸ interrupted"
	}
	return o
}

// Result is a step's result in the report (succeeded, failed, skipped,
// not_executed, aborted, running) as glyph and word.
func Result(r string) string {
	switch r {
	case "succeeded":
		return "✓ done"
	case "failed":
		return "✗ failed"
	case "skipped":
		return "↷ skipped"
	case "not_executed":
		return "· not run"
	case "aborted":
		return "✗ aborted"
	case "running":
		return "▶ running"
	}
	return r
}

// Verdict is an objective's verdict (pass, fail, or not measured).
func Verdict(v string) string {
	switch v {
	case "pass":
		return "✓ pass"
	case "fail":
		return "✗ fail"
	}
	return "not measured"
}

// ShortHome writes a path under the user's home directory as ~/….
func ShortHome(p string) string {
	if home, err := os.UserHomeDir(); err == nil && strings.HasPrefix(p, home+"/") {
		return "~" + p[len(home):]
	}
	return p
}

// ErrWriter keeps the first write error, so that a view written with many
// Fprintf calls still reports a failed write.
type ErrWriter struct {
	W   io.Writer
	Err error
}

func (e *ErrWriter) Write(p []byte) (int, error) {
	if e.Err != nil {
		return 0, e.Err
	}
	n, err := e.W.Write(p)
	if err != nil {
		e.Err = fmt.Errorf("write the run's view: %w", err)
	}
	return n, err
}

// Spelled renders a duration as a runbook spells it: 4h, 1h30m, 90s (the
// plan and the readiness table quote the runbook's own figures).
func Spelled(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// OneLine folds text onto one line: runs of white space become one space.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// OrHyphen is s, or "-" when it is empty (a cell of a plain-text table
// that must stay ASCII-aligned).
func OrHyphen(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Sorted returns a sorted copy of list.
func Sorted(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}
