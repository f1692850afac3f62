package main

// End-to-end tests of the real binary: exit codes, plain output, history,
// kill -9 and resume, and the TUI driven in tmux.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

// referenceDrill is the walking skeleton's runbook, whose exact event
// sequence the kill points below rely on.
const referenceDrill = "testdata/runbooks/good/reference-drill.yaml"

var (
	e2eOnce sync.Once
	e2ePath string
	e2eErr  error
)

// e2eBinary is the repli binary under test: $REPLI_BIN (make test builds
// it), or one built here.
func e2eBinary(t *testing.T) string {
	t.Helper()
	e2eOnce.Do(func() {
		if p := os.Getenv("REPLI_BIN"); p != "" {
			e2ePath = p
			return
		}
		dir, err := os.MkdirTemp("", "repli-e2e-")
		if err != nil {
			e2eErr = err
			return
		}
		// Some tests run the binary as another user (over ssh, as the lab's
		// unprivileged users): the directory must let them in.
		if err := os.Chmod(dir, 0o755); err != nil {
			e2eErr = err
			return
		}
		e2ePath = filepath.Join(dir, "repli")
		out, err := exec.Command("go", "build", "-o", e2ePath, ".").CombinedOutput()
		if err != nil {
			e2eErr = fmt.Errorf("build repli: %v\n%s", err, out)
		}
	})
	if e2eErr != nil {
		t.Fatal(e2eErr)
	}
	return e2ePath
}

// console is the real binary running in the background, as an operator's
// session: gates answered on its stdin, its output kept.
type console struct {
	cmd         *exec.Cmd
	stdin       io.WriteCloser
	out, errOut bytes.Buffer
	done        chan error
}

// startRepli starts repli in the repository root with extra environment.
func startRepli(t *testing.T, env []string, args ...string) *console {
	t.Helper()
	c := &console{done: make(chan error, 1)}
	c.cmd = exec.Command(e2eBinary(t), args...)
	c.cmd.Dir = filepath.Join("..", "..")
	c.cmd.Env = append(append(os.Environ(), "NO_COLOR=1", "REPLI_DB="), env...)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.errOut
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.stdin.Close()
		c.cmd.Process.Kill()
	})
	go func() { c.done <- c.cmd.Wait() }()
	return c
}

// answer writes gate answers to the console's stdin.
func (c *console) answer(s string) { io.WriteString(c.stdin, s) }

// kill stops the console as kill -9 would.
func (c *console) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// exit waits for the console to end on its own and returns its exit code.
func (c *console) exit(t *testing.T, within time.Duration, what string) int {
	t.Helper()
	select {
	case <-c.done:
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		c.cmd.Process.Kill()
		t.Fatalf("%s: still running after %s\n%s\n%s", what, within, c.out.String(), c.errOut.String())
	}
	return -1
}

type result struct {
	code           int
	stdout, stderr string
}

func runRepli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runRepliEnv(t, nil, stdin, args...)
}

// runRepliEnv is runRepli with extra environment (SUDO_USER: another operator).
func runRepliEnv(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2eBinary(t), args...)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1", "REPLI_DB="), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func TestValidateExitCodes(t *testing.T) {
	t.Parallel()
	r := runRepli(t, "", "validate", "runbooks/examples/annual-pra-test.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "ok") {
		t.Fatalf("valid runbook: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runRepli(t, "", "validate", "testdata/runbooks/bad/unknown-key.yaml", "testdata/runbooks/bad/unknown-site.yaml")
	if r.code != 1 {
		t.Fatalf("bad runbooks: exit %d, want 1", r.code)
	}
	for _, want := range []string{
		"testdata/runbooks/bad/unknown-key.yaml:7:5: unknown key \"titel\"",
		"testdata/runbooks/bad/unknown-site.yaml:8:19: unknown site \"secondry\" — did you mean \"secondary\"?",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") {
		t.Errorf("a user saw a Go stack:\n%s", r.stderr)
	}
	if r := runRepli(t, "", "validate", "no/such/file.yaml"); r.code != 2 {
		t.Errorf("missing file: exit %d, want 2", r.code)
	}
}

func TestRunAutoApprovePlainThenHistory(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	r := runRepli(t, "", "run", "runbooks/examples/annual-pra-test.yaml", "--auto-approve", "--plain", "--db", db, "--speed", "50")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, step := range []string{"announce", "secondary-ready", "stop-primary", "start-secondary", "secondary-running", "verify-users"} {
		if !strings.Contains(r.stdout, step+" ✓ done") {
			t.Errorf("no line says %s is done:\n%s", step, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "--auto-approve") || !strings.Contains(r.stdout, "anchor ") {
		t.Errorf("output does not mention auto-approve or the anchor:\n%s", r.stdout)
	}
	h := runRepli(t, "", "history", "--db", db, "--json")
	if h.code != 0 {
		t.Fatalf("history exit %d: %s", h.code, h.stderr)
	}
	var runs []map[string]any
	if err := json.Unmarshal([]byte(h.stdout), &runs); err != nil {
		t.Fatalf("history --json is not JSON: %v\n%s", err, h.stdout)
	}
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	run := runs[0]
	for _, k := range []string{"id", "runbook", "outcome", "started_at", "ended_at", "rto_target_s", "rto_achieved_s"} {
		if _, ok := run[k]; !ok {
			t.Errorf("history entry lacks %q: %v", k, run)
		}
	}
	if run["outcome"] != "succeeded" || run["runbook"] != "annual-pra-test" || run["rto_target_s"] != 14400.0 {
		t.Errorf("history entry %v", run)
	}
	if a, _ := run["rto_achieved_s"].(float64); a <= 0 {
		t.Errorf("rto_achieved_s %v", run["rto_achieved_s"])
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("audit database mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if v := runRepli(t, "", "verify", "--db", db); v.code != 0 || !strings.HasPrefix(v.stdout, "ok:") {
		t.Errorf("verify: exit %d %s %s", v.code, v.stdout, v.stderr)
	}
	rep := runRepli(t, "", "report", "1", "--db", db)
	for _, want := range []string{"# Disaster recovery exercise report (PRA)", "Runbook `annual-pra-test` · run 1", "## 4. Timeline", "| auto-approve | — | `stop-primary` |", "## 5. Gates and decisions", "| RTO | 4 h |", "✓ **PASS**", "✓ audit chain verified"} {
		if !strings.Contains(rep.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, rep.stdout)
		}
	}
	show := runRepli(t, "", "show", "1", "--db", db)
	if show.code != 0 || !strings.Contains(show.stdout, "final-sync") || !strings.Contains(show.stdout, "Anchor: ") {
		t.Errorf("show: exit %d\n%s%s", show.code, show.stdout, show.stderr)
	}
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"failed start", []string{"run", "annual-pra-test", "--auto-approve", "--plain", "--speed", "50", "--fault", "fail-start=secondary/db-01"}, 1, "secondary"},
		{"invalid runbook", []string{"run", "testdata/runbooks/bad/duplicate-id.yaml", "--auto-approve", "--plain"}, 2, "duplicate step id"},
		{"unknown site override", []string{"run", "annual-pra-test", "--plain", "--site", "tertiary=sim://x"}, 2, `no site "tertiary"`},
		{"bad mode", []string{"run", "annual-pra-test", "--plain", "--mode", "panic"}, 2, "--mode"},
		{"unknown flag", []string{"run", "annual-pra-test", "--yolo"}, 2, "unknown flag"},
		{"bad fault", []string{"run", "annual-pra-test", "--plain", "--fault", "explode=primary"}, 2, "KIND=SITE/DOMAIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--db", filepath.Join(dir, tc.name+".db"))
			r := runRepli(t, "", args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%s\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout+r.stderr, tc.says) {
				t.Errorf("output does not say %q:\n%s\n%s", tc.says, r.stdout, r.stderr)
			}
		})
	}
}

func TestPlainGatesOnStdin(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	// Two ticks and done; a wrong site name refuses; abort the run.
	r := runRepli(t, "y\ny\ny\nprimry\na\n", "run", referenceDrill, "--plain", "--db", db, "--speed", "50")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (aborted)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "stop-primary REFUSED by") || !strings.Contains(r.stdout, "aborted") {
		t.Errorf("output:\n%s", r.stdout)
	}
	s, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, err := s.Events(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if _, ok := ev.(*engine.ActionIntent); ok {
			t.Fatal("an action ran although its gate was refused")
		}
	}
}

// TestKillAndResume kills the real binary with SIGKILL at many points of a
// run (step boundaries and the middle of actions), then resumes it: the run
// completes, the chain verifies, and no action is performed twice.
func TestKillAndResume(t *testing.T) {
	t.Parallel()
	var inDoubt atomic.Int32
	t.Cleanup(func() {
		if inDoubt.Load() == 0 {
			t.Error("no kill landed in the middle of an action: the in-doubt path was not exercised")
		}
	})
	type point struct {
		name    string
		answers string // gate answers on stdin; nil stdin means --auto-approve
		auto    bool
		killAt  int
	}
	points := []point{
		// At a gate the console waits for its operator: the kill lands
		// exactly on a step boundary.
		{"at-announce-gate", "", false, 3},
		{"at-typed-gate", "y\ny\ny\n", false, 15},
		{"at-confirm-gate", "y\ny\ny\nprimary\n", false, 29},
		{"at-last-manual-step", "y\ny\ny\nprimary\ny\n", false, 51},
	}
	// Event numbers of the reference drill that are an action's intent:
	// the kill lands while the shutdown or start is in flight.
	for _, n := range []int{19, 21, 25, 33, 37, 41} {
		points = append(points, point{fmt.Sprintf("mid-action-after-event-%d", n), "", true, n})
	}
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "audit.db")
			args := []string{"run", referenceDrill, "--plain", "--db", db, "--speed", "10"}
			if p.auto {
				args = append(args, "--auto-approve")
			}
			c := startRepli(t, nil, args...)
			c.answer(p.answers)
			waitEvents(t, db, p.killAt, c.done)
			c.kill()

			// The killed console still holds the run: resuming needs an
			// explicit, recorded takeover.
			r := runRepli(t, "", "resume", "1", "--auto-approve", "--plain", "--db", db)
			if r.code != 2 || !strings.Contains(r.stderr, "--take-over") {
				t.Fatalf("resume without --take-over: exit %d\n%s", r.code, r.stderr)
			}
			r = runRepli(t, "", "resume", "1", "--auto-approve", "--plain", "--db", db, "--take-over", "console killed in a test")
			if r.code != 0 {
				t.Fatalf("resume: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if v := runRepli(t, "", "verify", "--db", db); v.code != 0 {
				t.Fatalf("verify after kill/resume: %s %s", v.stdout, v.stderr)
			}
			if checkNoRepeatedActions(t, db) {
				inDoubt.Add(1)
			}
		})
	}
}

// waitEvents polls the audit trail until it holds n events.
func waitEvents(t *testing.T, db string, n int, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("repli exited (%v) before event %d", err, n)
		default:
		}
		if s, err := store.OpenReadOnly(context.Background(), db); err == nil {
			evs, _ := s.Events(context.Background(), 1)
			s.Close()
			if len(evs) >= n {
				return
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("no event %d within a minute", n)
}

// checkNoRepeatedActions reports whether the resume found actions in doubt.
func checkNoRepeatedActions(t *testing.T, db string) bool {
	t.Helper()
	s, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, err := s.Events(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	reconciled := false
	intents := map[string]int{}
	undone := map[string]bool{}
	var ended bool
	for _, ev := range evs {
		switch e := ev.(type) {
		case *engine.ActionIntent:
			intents[e.Verb+" "+e.Site+"/"+e.Domain]++
		case *engine.ActionReconciled:
			reconciled = true
			if !e.Done {
				undone[e.Verb+" "+e.Site+"/"+e.Domain] = true
			}
		case *engine.RunEnded:
			ended = e.Outcome == engine.OutcomeSucceeded
		}
	}
	if !ended {
		t.Error("the resumed run did not end in success")
	}
	for action, n := range intents {
		// A second request is allowed only for an action found not done
		// on resume (a graceful shutdown still in progress, say).
		if n > 1 && !undone[action] {
			t.Errorf("%s requested %d times", action, n)
		}
	}
	if len(intents) != 8 {
		t.Errorf("%d distinct actions, want 8: %v", len(intents), intents)
	}
	return reconciled
}

// TestTwoConsolesRaceToResume starts two consoles on the same stopped run at
// once: exactly one drives it, the other is told who does.
func TestTwoConsolesRaceToResume(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	// A run stopped at its first gate (end of input), its lease released.
	if r := runRepli(t, "", "run", referenceDrill, "--plain", "--db", db, "--speed", "10"); r.code != 3 {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	cs := [2]*console{
		startRepli(t, nil, "resume", "1", "--plain", "--db", db),
		startRepli(t, nil, "resume", "1", "--plain", "--db", db),
	}
	// The loser exits at once; the winner waits at the gate for its operator.
	var loser, winner *console
	select {
	case <-cs[0].done:
		loser, winner = cs[0], cs[1]
	case <-cs[1].done:
		loser, winner = cs[1], cs[0]
	case <-time.After(30 * time.Second):
		t.Fatal("neither console was refused")
	}
	if code := loser.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(loser.errOut.String(), "is driven by") {
		t.Errorf("loser: exit %d\n%s", code, loser.errOut.String())
	}
	select {
	case err := <-winner.done:
		t.Fatalf("both consoles stopped (%v): %s", err, winner.errOut.String())
	case <-time.After(500 * time.Millisecond):
	}
	winner.stdin.Close() // end of input: the winner stops, resumable
	if code := winner.exit(t, 30*time.Second, "winner"); code != 3 {
		t.Errorf("winner: exit %d\n%s", code, winner.errOut.String())
	}
}

// TestWatchFollowsALiveRun follows a run from a second, read-only console
// while the first one drives it.
func TestWatchFollowsALiveRun(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	driver := startRepli(t, nil, "run", referenceDrill, "--plain", "--db", db, "--speed", "20")
	waitEvents(t, db, 3, driver.done) // waiting at the first gate

	watch := startRepli(t, nil, "watch", "1", "--plain", "--db", db)
	driver.answer("y\ny\ny\nprimary\ny\ny\n")
	if code := driver.exit(t, 30*time.Second, "driver"); code != 0 {
		t.Fatalf("driver: exit %d\n%s", code, driver.errOut.String())
	}
	if code := watch.exit(t, 30*time.Second, "watch, after the run ended"); code != 0 {
		t.Fatalf("watch: exit %d\n%s", code, watch.errOut.String())
	}
	for _, want := range []string{"announce ✓ Change ticket is open (by", "stop-primary approved by", "run 1 ✓ succeeded"} {
		if !strings.Contains(watch.out.String(), want) {
			t.Errorf("watch output lacks %q:\n%s", want, watch.out.String())
		}
	}
}

// TestSecondApproverFromAnotherConsole: the driver approves a two-approver
// gate; a different operator approves with repli approve; the run goes on.
func TestSecondApproverFromAnotherConsole(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	driver := startRepli(t, []string{"SUDO_USER=alice"}, "run", "testdata/runbooks/good/four-eyes.yaml", "--plain", "--db", db, "--speed", "20")
	driver.answer("primary\n")
	waitEvents(t, db, 4, driver.done) // gate opened, alice's approval recorded

	approve := func(user, typed string) result {
		return runRepliEnv(t, []string{"SUDO_USER=" + user}, typed+"\n", "approve", "1", "stop-primary", "--db", db)
	}
	if r := approve("alice", "primary"); r.code != 2 || !strings.Contains(r.stderr, "already approved") {
		t.Errorf("the driver approving twice: exit %d %s", r.code, r.stderr)
	}
	if r := approve("bob", "primry"); r.code != 1 {
		t.Errorf("a mistyped approval: exit %d %s", r.code, r.stderr)
	}
	if r := approve("bob", "primary"); r.code != 0 {
		t.Fatalf("bob's approval: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if code := driver.exit(t, 30*time.Second, "the run, after the second approval"); code != 0 {
		t.Fatalf("driver: exit %d\n%s\n%s", code, driver.out.String(), driver.errOut.String())
	}
	for _, want := range []string{"stop-primary approved by alice", "stop-primary approved by bob", "run 1 ✓ succeeded"} {
		if !strings.Contains(driver.out.String(), want) {
			t.Errorf("driver output lacks %q:\n%s", want, driver.out.String())
		}
	}
}

// TestLockedAuditTrailStopsBeforeActing: another process holds the audit
// database's write lock when the operator approves a shutdown; the shutdown
// is not performed, and the console says why.
func TestLockedAuditTrailStopsBeforeActing(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	driver := startRepli(t, nil, "run", referenceDrill, "--plain", "--db", db, "--speed", "20")
	driver.answer("y\ny\ny\n")
	waitEvents(t, db, 15, driver.done) // at the typed gate of stop-primary

	lock, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	conn, err := lock.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	driver.answer("primary\n")
	code := driver.exit(t, 60*time.Second, "the console, while the audit trail was locked")
	conn.ExecContext(context.Background(), "ROLLBACK")
	conn.Close()
	if code != 3 {
		t.Errorf("exit %d, want 3 (stopped, resumable)", code)
	}
	if !strings.Contains(driver.errOut.String(), "locked") {
		t.Errorf("the console does not say the audit trail is locked:\n%s", driver.errOut.String())
	}
	s, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, _ := s.Events(context.Background(), 1)
	for _, ev := range evs {
		if _, ok := ev.(*engine.ActionIntent); ok {
			t.Fatal("an action was recorded although the trail was locked")
		}
	}
}

// TestVerifyCatchesTampering edits an event the way an attacker with the
// file would (triggers dropped first): verify exits 1 and names the event.
func TestVerifyCatchesTampering(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	if r := runRepli(t, "", "run", referenceDrill, "--auto-approve", "--plain", "--db", db, "--speed", "50"); r.code != 0 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	raw, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DROP TRIGGER events_no_update",
		`UPDATE events SET body = replace(body, '"operator":"auto-approve"', '"operator":"alice"') WHERE kind = 'gate.decided' AND step = 'stop-primary'`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	r := runRepli(t, "", "verify", "--db", db)
	if r.code != 1 || !strings.Contains(r.stdout, "TAMPERED (changed)") || !strings.Contains(r.stdout, "gate.decided") {
		t.Fatalf("verify after tampering: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestPreflightRefusesAnUnreadyPlan: a run does not start on sites that are
// not ready unless the operator overrides it with a reason, recorded.
func TestPreflightRefusesAnUnreadyPlan(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	args := []string{"run", "annual-pra-test", "--auto-approve", "--plain", "--db", db, "--speed", "50", "--fault", "unreachable=secondary"}
	r := runRepli(t, "", args...)
	if r.code != 2 || !strings.Contains(r.stderr, "site secondary is unreachable") || !strings.Contains(r.stderr, "--force-unready") {
		t.Fatalf("unready plan: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(db); err == nil {
		if h := runRepli(t, "", "history", "--db", db); strings.Contains(h.stdout, "annual-pra-test") {
			t.Fatal("a refused run was recorded as started")
		}
	}
	r = runRepli(t, "", append(args, "--force-unready", "rehearsing with the link down")...)
	if r.code != 1 { // it starts, and fails at the secondary as it should
		t.Fatalf("overridden: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// A lost primary is not a blocker for a disaster run: its fence asks how
	// the site is isolated. Nobody can state that with --auto-approve…
	show := runRepli(t, "", "run", "disaster-failover", "--mode", "disaster", "--auto-approve", "--plain", "--db", db, "--speed", "50", "--fault", "unreachable=primary")
	if show.code != 1 || !strings.Contains(show.stdout, "state how it is isolated") {
		t.Errorf("disaster with the primary gone, auto-approved: exit %d\n%s\n%s", show.code, show.stdout, show.stderr)
	}
	// …a person does, and it is recorded.
	answers := "y\ny\ny\nprimary\npower cut at the PDU, ticket 4711\ny\ny\ny\ny\n"
	show = runRepli(t, answers, "run", "disaster-failover", "--mode", "disaster", "--plain", "--db", db, "--speed", "50", "--fault", "unreachable=primary")
	if show.code != 0 || !strings.Contains(show.stdout, "fenced by isolation, as stated by") || !strings.Contains(show.stdout, "power cut at the PDU") {
		t.Errorf("disaster with the primary gone, isolation stated: exit %d\n%s\n%s", show.code, show.stdout, show.stderr)
	}
	s, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, _ := s.Events(context.Background(), 1)
	var recorded bool
	for _, ev := range evs {
		if l, ok := ev.(*engine.Logged); ok && strings.Contains(l.Message, "rehearsing with the link down") {
			recorded = true
		}
	}
	if !recorded {
		t.Error("the override's reason is not in the audit trail")
	}
}

// TestBundledRunbooksRunOnTheSimulatedLab: every bundled runbook (but the
// lab's, which needs make lab) runs to success on simulated sites with
// --auto-approve --plain, in test mode and in disaster mode.
func TestBundledRunbooksRunOnTheSimulatedLab(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// hybrid-restore's demo backup in a directory of this test's, not the
	// shared demo one (a day-old backup left there would be refused).
	backup := filepath.Join(dir, "backup")
	extra := map[string][]string{"hybrid-restore": {"--var", "backup_dir=" + backup, "--var", "key_file=" + filepath.Join(backup, "demo-key.txt")}}
	for _, name := range []string{"annual-pra-test", "disaster-failover", "failback", "hybrid-restore", "single-vm-recovery"} {
		for _, mode := range []string{"test", "disaster"} {
			db := filepath.Join(dir, name+"-"+mode+".db")
			args := append([]string{"run", name, "--mode", mode, "--auto-approve", "--plain", "--db", db, "--speed", "50"}, extra[name]...)
			r := runRepli(t, "", args...)
			if r.code != 0 {
				t.Errorf("%s in %s mode: exit %d\n%s\n%s", name, mode, r.code, r.stdout, r.stderr)
				continue
			}
			if !strings.Contains(r.stdout, "✓ succeeded") {
				t.Errorf("%s in %s mode: no success line:\n%s", name, mode, r.stdout)
			}
		}
	}
}
