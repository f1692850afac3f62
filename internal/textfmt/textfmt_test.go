package textfmt

import (
	"errors"
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		-time.Second:                  "0s",
		0:                             "0s",
		42 * time.Second:              "42s",
		3*time.Minute + 7*time.Second: "3m07s",
		30 * time.Minute:              "30m",
		62 * time.Minute:              "1h02m",
		26*time.Hour + 5*time.Minute:  "26h05m",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
	if got := Clock(3*time.Hour + 4*time.Minute + 5*time.Second); got != "3:04:05" {
		t.Errorf("Clock = %q, want 3:04:05", got)
	}
}

func TestLabelsSayAWordWithTheGlyph(t *testing.T) {
	t.Parallel()
	cases := []struct{ got, want string }{
		{Outcome("succeeded"), "✓ succeeded"},
		{Outcome("interrupted"), "⏸ interrupted"},
		{Outcome("odd"), "odd"},
		{Result("not_executed"), "· not run"},
		{Result("skipped"), "↷ skipped"},
		{Verdict("fail"), "✗ fail"},
		{Verdict(""), "not measured"},
		{OrDash(""), "—"},
		{Stamp(time.Time{}), "—"},
		{Stamp(time.Date(2025, 11, 30, 14, 2, 7, 0, time.FixedZone("CET", 3600))), "2025-11-30 13:02:07Z"},
		{TimeOfDay(time.Date(2025, 11, 30, 14, 2, 7, 0, time.UTC)), "14:02:07"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

type failing struct{ n int }

func (f *failing) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("disk full")
}

func TestErrWriterKeepsTheFirstError(t *testing.T) {
	t.Parallel()
	f := &failing{}
	w := &ErrWriter{W: f}
	w.Write([]byte("a"))
	w.Write([]byte("b"))
	if w.Err == nil || f.n != 1 {
		t.Fatalf("err %v after %d writes, want an error after 1", w.Err, f.n)
	}
}
func TestSpelled(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		4 * time.Hour: "4h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", 2 * time.Minute: "2m", 30 * time.Second: "30s",
	} {
		if got := Spelled(d); got != want {
			t.Errorf("Spelled(%v) = %q, want %q", d, got, want)
		}
	}
}
