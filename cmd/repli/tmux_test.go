package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

// tmuxSession is the real binary running in a real terminal (tmux), driven
// with send-keys and read with capture-pane, as an operator over SSH would.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func newTmux(t *testing.T, w, h int, command string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is missing: make test installs it (apt-get install tmux)")
		}
		t.Skip("SKIPPING the terminal UI test: tmux is not installed (make test installs it)")
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("repli-test-%d-%d", os.Getpid(), time.Now().UnixNano()), name: "repli"}
	s.run("new-session", "-d", "-s", s.name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), command)
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	s.run(append([]string{"send-keys", "-t", s.name}, keys...)...)
}

func (s *tmuxSession) screen() string {
	s.t.Helper()
	return s.run("capture-pane", "-p", "-t", s.name)
}

// waitFor waits until the screen shows text, and returns the screen.
func (s *tmuxSession) waitFor(text string) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var scr string
	for time.Now().Before(deadline) {
		scr = s.screen()
		if strings.Contains(scr, text) {
			return scr
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("the screen never showed %q; last screen:\n%s", text, scr)
	return ""
}

// throughTheFirstGates answers the annual drill's first two gates as an
// operator would: both checklist items of announce ticked, then "primary"
// typed to stop the primary site.
func throughTheFirstGates(s *tmuxSession) {
	s.t.Helper()
	s.waitFor("Change ticket is open")
	s.keys("Space")
	s.waitFor("[✓] Change ticket is open")
	s.keys("Space")
	s.waitFor("[✓] Customers were notified")
	s.keys("Enter")
	s.waitFor(`type "primary"`)
	s.keys("-l", "primary")
	s.keys("Enter")
}

func checkFits(t *testing.T, scr string, w int) {
	t.Helper()
	for i, line := range strings.Split(strings.TrimRight(scr, "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > w {
			t.Errorf("line %d is %d wide on a %d-column terminal: %q", i+1, n, w, line)
		}
	}
}

// TestDemoDrivenInTmux runs the demo at 80×24 with NO_COLOR and completes the
// drill with the keyboard alone, resizing the terminal on the way.
func TestDemoDrivenInTmux(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	bin := e2eBinary(t)
	s := newTmux(t, 80, 24, fmt.Sprintf("NO_COLOR=1 %s demo --db %s --speed 20; echo EXITED $?; sleep 60", bin, db))
	stopEngineAtEnd(t, db) // on a terminal the engine runs detached

	scr := s.waitFor("Change ticket is open")
	checkFits(t, scr, 80)
	if !strings.Contains(scr, "⏸ waiting") || !strings.Contains(scr, "space tick") {
		t.Fatalf("first screen:\n%s", scr)
	}
	if strings.Contains(scr, "\x1b[") {
		t.Error("escape sequences leak into the screen")
	}
	s.keys("Space")
	s.waitFor("[✓] Change ticket is open")
	s.keys("Enter") // not every item ticked: refused with a hint
	s.waitFor("not ticked yet")
	s.keys("Space")
	s.waitFor("[✓] Customers were notified")
	s.keys("Enter")

	s.waitFor(`type "primary"`)
	s.run("resize-window", "-t", s.name, "-x", "100", "-y", "30")
	checkFits(t, s.waitFor(`type "primary"`), 100)
	s.keys("-l", "secondary")
	s.keys("Enter")
	s.waitFor("that is not")
	s.keys("C-u")
	s.keys("-l", "primary")
	s.keys("Enter")
	s.run("resize-window", "-t", s.name, "-x", "80", "-y", "24")

	s.waitFor("confirm: press y")
	s.keys("y")
	s.waitFor("Log in as the test user")
	s.keys("n")
	s.waitFor("note>")
	s.keys("-l", "users confirmed by phone")
	s.keys("Enter")
	s.waitFor("note by")
	s.keys("Enter")
	s.waitFor("Outcome and recovery time recorded")
	s.keys("Space")
	s.waitFor("[✓] Outcome and recovery time recorded")
	s.keys("Enter")
	scr = s.waitFor("succeeded")
	checkFits(t, scr, 80)
	if !strings.Contains(scr, "RTO ✓") || !strings.Contains(scr, "within the 4h00m target") {
		t.Errorf("final screen lacks the RTO verdict:\n%s", scr)
	}
	s.keys("q")
	s.waitFor("EXITED 0")

	h := runRepli(t, "", "history", "--db", db)
	if h.code != 0 || !strings.Contains(h.stdout, "✓ succeeded") || !strings.Contains(h.stdout, "annual-pra-test") {
		t.Fatalf("history after the demo: exit %d\n%s%s", h.code, h.stdout, h.stderr)
	}
}

// TestQuitMidRunLeavesItResumable quits a TUI that runs the engine inside
// it (--foreground) at a gate: the run stops there, and resumes.
func TestQuitMidRunLeavesItResumable(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	bin := e2eBinary(t)
	s := newTmux(t, 80, 24, fmt.Sprintf("NO_COLOR=1 %s demo --foreground --db %s --speed 20; echo EXITED $?; sleep 60", bin, db))
	s.waitFor("Change ticket is open")
	s.keys("q")
	s.waitFor("Stop driving this run and quit?")
	s.keys("y")
	s.waitFor("EXITED 3")
	scr := s.screen()
	if !strings.Contains(scr, "repli resume 1") {
		t.Errorf("no hint to resume after quitting:\n%s", scr)
	}
	r := runRepli(t, "", "resume", "1", "--db", db, "--auto-approve", "--plain")
	if r.code != 0 {
		t.Fatalf("resume: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestFirstScreenOffersUnfinishedRuns: repli with no command, after a console
// died mid-run, offers that run first and carries on with it.
func TestFirstScreenOffersUnfinishedRuns(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	db := filepath.Join(state, "repli", "audit.db")
	bin := e2eBinary(t)
	// A console that stops at its first gate (end of input), as if killed.
	cmd := exec.Command(bin, "run", "annual-pra-test", "--plain", "--speed", "20")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state, "REPLI_DB=")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "repli resume 1") {
		t.Fatalf("first console: %v\n%s", err, out)
	}
	s := newTmux(t, 80, 24, fmt.Sprintf("cd ../.. && XDG_STATE_HOME=%s REPLI_DB= NO_COLOR=1 %s; echo EXITED $?; sleep 60", state, bin))
	scr := s.waitFor("Resume run 1 · annual-pra-test")
	checkFits(t, scr, 80)
	if !strings.Contains(scr, "stopped before their end") || !strings.Contains(scr, "Start the demo drill") {
		t.Fatalf("first screen:\n%s", scr)
	}
	stopEngineAtEnd(t, db)
	s.keys("Enter")
	s.waitFor("Change ticket is open") // back at the gate where it stopped
	s.keys("q")
	s.waitFor("Stop driving this run and quit?")
	s.keys("y")
	s.waitFor("EXITED 3")
	if h := runRepli(t, "", "show", "1", "--db", db); !strings.Contains(h.stdout, "announce") {
		t.Errorf("show after resume:\n%s%s", h.stdout, h.stderr)
	}
}

// TestFirstScreenToTheEndInOneProgram: repli with no command goes from its
// first screen through the preflight into the run and to its end in one
// program: the demo picked, read, started, driven by keys to its end, and
// the summary left in the terminal once the screen closes. The run's
// engine is detached (the run outlives the console), and the console that
// showed the first screen is the one that shows the end.
func TestFirstScreenToTheEndInOneProgram(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	db := filepath.Join(state, "repli", "audit.db")
	bin := e2eBinary(t)
	s := newTmux(t, 80, 24, fmt.Sprintf("cd %s && XDG_STATE_HOME=%s REPLI_DB= NO_COLOR=1 %s; echo EXITED $?; sleep 60", state, state, bin))
	stopEngineAtEnd(t, db)
	s.waitFor("Start the demo drill")
	console := consolePID(t, s)
	s.keys("Enter")
	scr := s.waitFor("enter start the run")
	checkFits(t, scr, 80)
	if !strings.Contains(scr, "Readiness of annual-pra-test") || !strings.Contains(scr, "ready") {
		t.Fatalf("preflight screen:\n%s", scr)
	}
	s.keys("Enter")
	s.waitFor("Change ticket is open")
	// The sites as the detached engine sees them, live, not from the trail.
	s.waitFor("primary up · 4/4 running")
	if pid := enginePID(t, db); pid == console {
		t.Fatalf("the engine runs in the console's process (%d): it would die with the terminal", pid)
	}
	throughTheFirstGates(s)
	s.waitFor("confirm: press y")
	s.keys("y")
	s.waitFor("Log in as the test user")
	s.keys("Enter")
	s.waitFor("Outcome and recovery time recorded")
	s.keys("Space")
	s.waitFor("[✓] Outcome and recovery time recorded")
	s.keys("Enter")
	scr = s.waitFor("succeeded")
	if got := consolePID(t, s); got != console {
		t.Errorf("the end is shown by process %d, the first screen by %d: want one program", got, console)
	}
	if !strings.Contains(scr, "RTO ✓") {
		t.Errorf("end screen lacks the RTO verdict:\n%s", scr)
	}
	s.keys("q")
	scr = s.waitFor("EXITED 0")
	if !strings.Contains(scr, "succeeded") {
		t.Errorf("no summary left in the terminal after the screen closed:\n%s", scr)
	}
}

// TestEngineKilledTheConsoleSaysSo: the detached engine dies (kill -9)
// while its console waits at a gate: within seconds the console says the
// engine is gone and how to carry on, leaving exits 3, and repli resume
// takes the run to its end.
func TestEngineKilledTheConsoleSaysSo(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	bin := e2eBinary(t)
	s := newTmux(t, 80, 24, fmt.Sprintf("NO_COLOR=1 %s demo --db %s --speed 20; echo EXITED $?; sleep 60", bin, db))
	stopEngineAtEnd(t, db)
	s.waitFor("Change ticket is open")
	if err := syscall.Kill(enginePID(t, db), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	scr := s.waitFor("ENGINE GONE")
	checkFits(t, scr, 80)
	if !strings.Contains(scr, "carry on with: repli resume 1") {
		t.Errorf("the console does not say how to carry on:\n%s", scr)
	}
	s.keys("q")
	s.waitFor("EXITED 3")
	r := runRepli(t, "", "resume", "1", "--db", db, "--auto-approve", "--plain", "--take-over", "engine killed in a test")
	if r.code != 0 || !strings.Contains(r.stdout, "✓ succeeded") {
		t.Fatalf("resume after the engine was killed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// consolePID is the pid of the repli console running in the tmux pane.
func consolePID(t *testing.T, s *tmuxSession) int {
	t.Helper()
	shell := strings.TrimSpace(s.run("display-message", "-p", "-t", s.name, "#{pane_pid}"))
	out, err := exec.Command("pgrep", "-P", shell, "repli").Output()
	pids := strings.Fields(string(out))
	if err != nil || len(pids) != 1 {
		t.Fatalf("repli consoles under the pane's shell %s: %q (%v), want one", shell, pids, err)
	}
	var pid int
	fmt.Sscan(pids[0], &pid)
	return pid
}

// TestPreflightScreenInTmux: in the terminal UI an unready plan shows its
// readiness first; esc starts nothing, a typed reason starts it, recorded.
func TestPreflightScreenInTmux(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	cmd := fmt.Sprintf("NO_COLOR=1 %s demo --db %s --speed 20 --fault unreachable=secondary; echo EXITED $?; sleep 60", e2eBinary(t), db)

	s := newTmux(t, 80, 24, cmd)
	stopEngineAtEnd(t, db)
	scr := s.waitFor("NOT READY")
	checkFits(t, scr, 80)
	if !strings.Contains(scr, "site secondary is unreachable") {
		t.Fatalf("preflight screen:\n%s", scr)
	}
	s.keys("Escape")
	s.waitFor("EXITED 2")

	// The same with the engine inside the console: the same one program.
	s = newTmux(t, 80, 24, strings.Replace(cmd, " demo ", " demo --foreground ", 1))
	s.waitFor("NOT READY")
	s.keys("Escape")
	if scr := s.waitFor("EXITED 2"); !strings.Contains(scr, "cancelled at the preflight check; nothing was started") {
		t.Errorf("leaving the preflight with --foreground:\n%s", scr)
	}

	s = newTmux(t, 80, 24, cmd)
	s.waitFor("NOT READY")
	s.keys("-l", "rehearsing with the link down")
	s.keys("Enter")
	s.waitFor("Change ticket is open") // the run started
	s.keys("q")
	s.waitFor("Stop driving this run and quit?")
	s.keys("y")
	s.waitFor("EXITED 3")

	st, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, _ := st.Events(context.Background(), 1)
	found := false
	for _, ev := range evs {
		if l, ok := ev.(*engine.Logged); ok {
			found = found || strings.Contains(l.Message, "rehearsing with the link down")
		}
	}
	if !found {
		t.Error("the override's reason is not in the audit trail")
	}
}

// TestResumedRunShowsWhereItStands: a run killed (kill -9) after its RTO
// clock started, then resumed in the terminal UI, shows the steps it did as
// done with their real durations, and the clock counting from its real
// start: the screen reads the run's projection rebuilt from the trail.
func TestResumedRunShowsWhereItStands(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	bin := e2eBinary(t)
	s := newTmux(t, 80, 24, fmt.Sprintf("NO_COLOR=1 %s demo --foreground --db %s --speed 20; echo EXITED $?; sleep 60", bin, db))
	s.waitFor("Change ticket is open")
	throughTheFirstGates(s)
	s.waitFor("confirm: press y") // start-secondary: the RTO clock runs
	before := s.screen()
	if !strings.Contains(before, "RTO 0:") {
		t.Fatalf("the RTO clock is not running before the kill:\n%s", before)
	}
	// The console dies: no chance to record anything more.
	if out, err := exec.Command("pkill", "-KILL", "-f", "^"+bin+" demo --foreground --db "+db).CombinedOutput(); err != nil {
		t.Fatalf("pkill: %v %s", err, out)
	}
	s.waitFor("Killed")
	time.Sleep(2 * time.Second) // the console was gone a while: the clock counts it

	r := newTmux(t, 80, 24, fmt.Sprintf("NO_COLOR=1 %s resume 1 --db %s --take-over 'console killed in a test'; echo EXITED $?; sleep 60", bin, db))
	scr := r.waitFor("confirm: press y")
	checkFits(t, scr, 80)
	for _, id := range []string{"announce", "secondary-ready", "stop-primary", "final-sync"} {
		line := lineWith(scr, id)
		if !strings.Contains(line, "✓ done") {
			t.Errorf("step %s after resume: %q, want ✓ done\n%s", id, line, scr)
		}
	}
	if strings.Contains(scr, "RTO not started") || !strings.Contains(scr, "RTO 0:00:0") {
		t.Errorf("the RTO clock after resume is wrong:\n%s", scr)
	}
	// No absurd duration (a zero start time gives 256204h…).
	for _, l := range strings.Split(scr, "\n") {
		if strings.Contains(l, "2562") || strings.Contains(l, "-") && strings.Contains(l, "✓ done") && strings.Contains(l, "-1") {
			t.Errorf("absurd duration: %q", l)
		}
	}
	// The clock counts from the run's real start, console gap included.
	evs := runRepli(t, "", "show", "1", "--db", db, "--output", "json")
	if evs.code != 0 {
		t.Fatalf("show: %d %s", evs.code, evs.stderr)
	}
	r.keys("y")
	r.waitFor("Log in as the test user")
	r.keys("Enter")
	r.waitFor("Outcome and recovery time recorded")
	r.keys("Space")
	r.keys("Enter")
	end := r.waitFor("succeeded")
	if !strings.Contains(end, "RTO ✓") {
		t.Errorf("end of the resumed run:\n%s", end)
	}
	d := rtoOf(t, db)
	if d < 2*time.Second {
		t.Errorf("RTO achieved %s, but the console alone was gone 2s: the clock did not count from the real start", d)
	}
}

func lineWith(scr, s string) string {
	for _, l := range strings.Split(scr, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// rtoOf is the RTO achieved by run 1, as history --json says.
func rtoOf(t *testing.T, db string) time.Duration {
	t.Helper()
	h := runRepli(t, "", "history", "--db", db, "--json")
	var rows []struct {
		RTOAchievedS *float64 `json:"rto_achieved_s"`
	}
	if err := json.Unmarshal([]byte(h.stdout), &rows); err != nil || len(rows) == 0 || rows[0].RTOAchievedS == nil {
		t.Fatalf("history --json: %v\n%s", err, h.stdout)
	}
	return time.Duration(*rows[0].RTOAchievedS * float64(time.Second))
}
