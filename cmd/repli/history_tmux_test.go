package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestHistoryBrowserInTmux: after two drills and a finding, repli history on
// a terminal is the browser; enter opens a run with its timeline, esc goes
// back, m and c compare the two, q quits with 0. Piped, it prints the table.
func TestHistoryBrowserInTmux(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	for range 2 {
		if r := runRepli(t, "", "run", "runbooks/examples/annual-pra-test.yaml", "--auto-approve", "--plain", "--db", db, "--speed", "50"); r.code != 0 {
			t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	if r := runRepli(t, "", "note", "1", "--db", db, "--finding", "close took too long", "--owner", "ops"); r.code != 0 {
		t.Fatalf("note: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runRepli(t, "", "history", "--db", db); r.code != 0 || !strings.Contains(r.stdout, "ID  RUNBOOK") || strings.Contains(r.stdout, "\x1b[") {
		t.Fatalf("piped history is not the plain table: exit %d\n%q%s", r.code, r.stdout, r.stderr)
	}

	s := newTmux(t, 80, 24, fmt.Sprintf("cd ../.. && NO_COLOR=1 %s history --db %s; echo EXITED $?; sleep 60", e2eBinary(t), db))
	scr := s.waitFor("enter open")
	checkFits(t, scr, 80)
	for _, want := range []string{"repli history", "no real runs · newest first · 2 simulated below", "annual-pra-test", "✓ succeeded"} {
		if !strings.Contains(scr, want) {
			t.Fatalf("the browser lacks %q:\n%s", want, scr)
		}
	}
	s.keys("Down")
	s.keys("Enter")
	scr = s.waitFor("█ work")
	checkFits(t, scr, 80)
	if !strings.Contains(scr, "repli history · run 1") || !strings.Contains(scr, "announce") {
		t.Fatalf("run 1's view:\n%s", scr)
	}
	s.keys("G")
	scr = s.waitFor("Anchor: ")
	if !strings.Contains(scr, "close took too long") {
		t.Errorf("the end of run 1's view lacks the finding recorded after it:\n%s", scr)
	}
	s.keys("Escape")
	s.waitFor("enter open")
	s.keys("m")
	s.waitFor("run 1 marked")
	s.keys("Up")
	s.keys("c")
	scr = s.waitFor("run 1 beside run 2")
	if !strings.Contains(scr, "GATE WAIT A") {
		t.Errorf("compare:\n%s", scr)
	}
	s.keys("q")
	s.waitFor("EXITED 0")
}
