package main

import (
	"testing"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// TestBenchRunbooksParse keeps make bench's runbooks valid as the format
// moves: a bench that fails at its first run is found by go test instead.
func TestBenchRunbooksParse(t *testing.T) {
	t.Parallel()
	for name, src := range map[string]string{
		"switchover": switchoverRunbook([]string{"vm-000", "vm-001"}, "test+unix:///default?socket=/tmp/p", "test+unix:///default?socket=/tmp/s"),
		"sim":        simRunbook(120),
		"gate":       gateRunbook(),
	} {
		rb, diags := runbooks.Parse(name+".yaml", []byte(src))
		if rb == nil || diags.HasErrors() {
			t.Fatalf("%s runbook: %v\n%s", name, diags, src)
		}
		if len(rb.Steps) != 2 {
			t.Fatalf("%s runbook has %d steps, want 2", name, len(rb.Steps))
		}
	}
}

func TestMedianAndFormats(t *testing.T) {
	t.Parallel()
	if m := median([]time.Duration{5, 1, 3}); m != 3 {
		t.Errorf("median of 5,1,3 = %d", m)
	}
	if m := median([]time.Duration{4, 1, 3, 2}); m != 2 {
		t.Errorf("median of 4,1,3,2 = %d, want 2 (mean of 2 and 3, truncated)", m)
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	if got := dur(1500 * time.Millisecond); got != "1.50 s" {
		t.Errorf("dur(1.5s) = %q", got)
	}
}

// TestTermCountsAndAnswers runs a program in a real pseudo-terminal: the
// bytes it writes are counted, and its cursor-position question is
// answered (a full-screen program would otherwise wait for the answer).
func TestTermCountsAndAnswers(t *testing.T) {
	t.Parallel()
	script := `stty raw -echo; printf '\033[6n'; v=$(dd bs=1 count=6 2>/dev/null); stty sane; printf 'got %d bytes\n' "${#v}"; printf '%0500d\n' 0`
	tm, err := startTerm([]string{"TERM=xterm", "PATH=/usr/bin:/bin"}, 80, 24, "/bin/sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.waitFor("got 6 bytes", 10*time.Second); err != nil {
		tm.kill()
		t.Fatal(err)
	}
	if err := tm.wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	// 4 (question) + "got 6 bytes\r\n" (13) + 500 zeros and "\r\n" (502).
	if n := tm.bytes(); n != 4+13+502 {
		t.Errorf("counted %d bytes written to the terminal, want %d", n, 4+13+502)
	}
}

func TestCellStaysOnOneLine(t *testing.T) {
	t.Parallel()
	if got := cell("a\nb | c"); got != `a b \| c` {
		t.Errorf("cell = %q", got)
	}
}
