package textfmt

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		4 * time.Hour: "4h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", 2 * time.Minute: "2m", 30 * time.Second: "30s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestWrap(t *testing.T) {
	t.Parallel()
	text := "the quick brown fox jumps over the lazy dog\nand a verylongwordthatdoesnotfitatall"
	lines := Wrap(text, 12)
	for _, l := range lines {
		if utf8.RuneCountInString(l) > 12 {
			t.Errorf("line %q is over 12 runes", l)
		}
	}
	if got := strings.Join(lines, "|"); got != "the quick|brown fox|jumps over|the lazy dog|and a|verylongword|thatdoesnotf|itatall" {
		t.Errorf("Wrap = %q", got)
	}
	if got := Pad("né", 4); got != "né  " {
		t.Errorf("Pad = %q", got)
	}
}
