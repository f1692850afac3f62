package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestHomeOnEmptyTrailPicksARunbook: repli on an empty trail shows the home
// screen (not the demo at once); / filters, enter starts the bundled
// runbook after its preflight; quitting mid-run and reopening repli offers
// the run (its engine waiting at the gate), and enter carries on there.
func TestHomeOnEmptyTrailPicksARunbook(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	bin := e2eBinary(t)
	cmd := fmt.Sprintf("cd ../.. && XDG_STATE_HOME=%s REPLI_DB= REPLI_RUNBOOKS= NO_COLOR=1 %s; echo EXITED $?; sleep 60", state, bin)

	s := newTmux(t, 80, 24, cmd)
	scr := s.waitFor("The audit trail is empty")
	checkFits(t, scr, 80)
	for _, want := range []string{"Start the demo drill", "annual-pra-test", "bundled", "/ filter", "? help"} {
		if !strings.Contains(scr, want) {
			t.Fatalf("home on an empty trail lacks %q:\n%s", want, scr)
		}
	}
	s.keys("/")
	s.waitFor("keep filter")
	s.keys("-l", "lab-switch")
	s.waitFor("/lab-switch")
	s.keys("Enter")
	scr = s.waitFor("enter open")
	if strings.Contains(scr, "Start the demo drill") {
		t.Fatalf("the filter left the demo:\n%s", scr)
	}
	s.keys("Escape") // clears the filter
	s.waitFor("Start the demo drill")
	s.keys("/")
	s.waitFor("keep filter") // in the filter: what follows is typed into it
	s.keys("-l", "annual")
	s.waitFor("/annual") // typed into the filter, not taken as keys
	s.keys("Enter")
	s.waitFor("enter open") // the filter is applied: back to the list
	s.keys("Enter")
	s.waitFor("enter start the run") // its preflight, read before anything starts
	s.keys("Enter")
	s.waitFor("Change ticket is open") // the run started, at its first gate
	s.keys("q")
	s.waitFor("Stop driving this run and quit?")
	s.keys("y")
	s.waitFor("EXITED 3")

	// The run's engine runs detached: it waits at the gate for a person,
	// and the first screen offers to attach to it.
	db := filepath.Join(state, "repli", "audit.db")
	stopEngineAtEnd(t, db)
	s = newTmux(t, 80, 24, cmd)
	scr = s.waitFor("Attach to run 1 · annual-pra-test")
	if !strings.Contains(scr, "stopped before their end") {
		t.Fatalf("second home screen:\n%s", scr)
	}
	s.keys("Enter")
	s.waitFor("Change ticket is open")
	s.keys("q")
	s.waitFor("Stop driving this run and quit?")
	s.keys("y")
	s.waitFor("EXITED 3")
	if h := runRepli(t, "", "show", "1", "--db", db); !strings.Contains(h.stdout, "resumed") && !strings.Contains(h.stdout, "announce") {
		t.Errorf("show after the resume:\n%s%s", h.stdout, h.stderr)
	}
}

// TestWatchSaysTheDriverIsGone: the driving console is killed at a gate;
// repli watch says the driver is gone and since when, names the gate for
// what it is, and q quits without asking to stop driving.
func TestWatchSaysTheDriverIsGone(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	driver := startRepli(t, nil, "run", referenceDrill, "--plain", "--db", db, "--speed", "20")
	waitEvents(t, db, 3, driver.done) // waiting at the first gate
	if err := driver.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-driver.done

	s := newTmux(t, 80, 24, fmt.Sprintf("NO_COLOR=1 %s watch 1 --db %s; echo EXITED $?; sleep 60", e2eBinary(t), db))
	scr := s.waitFor("DRIVER GONE since")
	checkFits(t, scr, 80)
	for _, want := range []string{"WATCHING", "waiting for the driving console to answer a checklist", "repli resume 1", "read-only", "? help"} {
		if !strings.Contains(scr, want) {
			t.Errorf("watch lacks %q:\n%s", want, scr)
		}
	}
	s.keys("q")
	s.waitFor("EXITED 0")

	// A dumb terminal gets plain lines, and a line saying why.
	s = newTmux(t, 80, 24, fmt.Sprintf("TERM=dumb %s watch 1 --db %s; echo EXITED $?; sleep 60", e2eBinary(t), db))
	scr = s.waitFor("the driving console is gone")
	if !strings.Contains(scr, "plain mode: TERM=dumb") || !strings.Contains(scr, "announce waits: 2 checklist item(s) to tick") {
		t.Errorf("watch on a dumb terminal:\n%s", scr)
	}
}
