package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
	"github.com/repli-dr/repli/internal/session"
	"github.com/repli-dr/repli/store"
)

// runProgress reads where run 1 of a trail stands, and who holds its lease.
func runProgress(t *testing.T, db string) (*engine.Progress, store.Holder, bool) {
	t.Helper()
	s, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		return nil, store.Holder{}, false
	}
	defer s.Close()
	evs, err := s.Events(context.Background(), 1)
	if err != nil || len(evs) == 0 {
		return nil, store.Holder{}, false
	}
	p, err := engine.ProgressOf(evs)
	if err != nil {
		t.Fatal(err)
	}
	st, held, _ := s.LeaseState(context.Background(), 1)
	if st == nil {
		return p, store.Holder{}, held
	}
	return p, st.Holder, held
}

// waitRun polls the trail until ok says the run is where the test wants it.
func waitRun(t *testing.T, db, what string, ok func(*engine.Progress) bool) *engine.Progress {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var p *engine.Progress
	for time.Now().Before(deadline) {
		if p, _, _ = runProgress(t, db); p != nil && ok(p) {
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	var last string
	if p != nil {
		last = fmt.Sprintf("last seq %d, ended %v", p.LastSeq, p.Ended != nil)
	}
	t.Fatalf("the run never got to: %s (%s)", what, last)
	return nil
}

func stepRunning(id string) func(*engine.Progress) bool {
	return func(p *engine.Progress) bool {
		s := p.Steps[id]
		return s != nil && s.State == engine.StepRunning
	}
}

func gateOpen(id string) func(*engine.Progress) bool {
	return func(p *engine.Progress) bool { return p.Gate != nil && p.Gate.Step == id }
}

func ended(p *engine.Progress) bool { return p.Ended != nil }

// stopEngineAtEnd stops, when the test ends, a detached engine still
// driving run 1 of db (a failed test leaves one waiting at a gate).
func stopEngineAtEnd(t *testing.T, db string) {
	t.Cleanup(func() {
		if _, h, held := runProgress(t, db); held && h.Console == "detached engine" && h.PID > 0 {
			syscall.Kill(h.PID, syscall.SIGKILL)
		}
	})
}

// enginePID is the pid of the detached engine that holds run 1's lease.
func enginePID(t *testing.T, db string) int {
	t.Helper()
	_, h, held := runProgress(t, db)
	if !held || h.Console != "detached engine" || h.PID == 0 {
		t.Fatalf("run 1 is not held by a detached engine: %+v (held %v)", h, held)
	}
	return h.PID
}

// TestSSHDropRunGoesOn is the SSH link dropping in the middle of a step: the
// tmux server (the terminal of the console) is killed. With --auto-approve
// the run finishes by itself; without, it waits at its next gate, and
// repli attach shows where it stands and drives it to its end.
func TestSSHDropRunGoesOn(t *testing.T) {
	t.Parallel()
	bin := e2eBinary(t)
	drill, err := filepath.Abs(filepath.Join("..", "..", referenceDrill))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("auto-approve finishes", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "audit.db")
		stopEngineAtEnd(t, db)
		s := newTmux(t, 100, 30, fmt.Sprintf("NO_COLOR=1 %s run %s --auto-approve --speed 5 --db %s; sleep 60", bin, drill, db))
		s.waitFor("stop-primary")
		waitRun(t, db, "stop-primary running", stepRunning("stop-primary"))
		pid := enginePID(t, db)
		s.run("kill-server")
		if st := standing(t, db); st != session.StandingDetached && st != session.StandingEnded {
			t.Errorf("a detached run going on shows as %q", st)
		}
		p := waitRun(t, db, "its end", ended)
		if p.Ended.Outcome != engine.OutcomeSucceeded {
			t.Fatalf("the run ended %s", p.Ended.Outcome)
		}
		if err := syscall.Kill(pid, 0); err == nil {
			waitGone(t, pid)
		}
		checkNoRepeatedActions(t, db)
	})
	t.Run("waits at the next gate, then attach", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "audit.db")
		stopEngineAtEnd(t, db)
		s := newTmux(t, 100, 30, fmt.Sprintf("NO_COLOR=1 %s run %s --speed 5 --db %s; sleep 60", bin, drill, db))
		s.waitFor("Change ticket is open")
		throughTheFirstGates(s)
		waitRun(t, db, "stop-primary running", stepRunning("stop-primary"))
		s.run("kill-server") // mid-step: the shutdowns are in flight
		waitRun(t, db, "the gate of start-secondary", gateOpen("start-secondary"))
		p, _, held := runProgress(t, db)
		if !held || p.Steps["stop-primary"].State != engine.StepSucceeded {
			t.Fatalf("after the drop: stop-primary %s, lease held %v", p.Steps["stop-primary"].State, held)
		}
		if st := standing(t, db); st != session.StandingWaiting {
			t.Errorf("the home screen would show the run as %q, want %q", st, session.StandingWaiting)
		}
		a := newTmux(t, 100, 30, fmt.Sprintf("NO_COLOR=1 %s attach 1 --db %s; echo EXITED $?; sleep 60", bin, db))
		scr := a.waitFor("confirm: press y")
		if !strings.Contains(scr, "✓ done     stop-primary") || !strings.Contains(scr, "start-secondary") {
			t.Errorf("attach does not show where the run stands:\n%s", scr)
		}
		a.keys("y")
		waitRun(t, db, "the gate of verify-users", gateOpen("verify-users"))
		a.waitFor("enter when the step is done")
		a.keys("Enter")
		scr = a.waitFor("succeeded")
		a.keys("q")
		a.waitFor("EXITED 0")
		p, _, _ = runProgress(t, db)
		if p.Ended == nil || p.Ended.Outcome != engine.OutcomeSucceeded {
			t.Fatalf("the run did not succeed:\n%s", scr)
		}
		checkNoRepeatedActions(t, db)
	})
}

// standing is where run 1 stands, as the home screen reads it.
func standing(t *testing.T, db string) session.Standing {
	t.Helper()
	s, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return session.StandingOf(context.Background(), s, db, 1)
}

// waitGone waits for a process to end.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(b), ") Z ") {
			return // a zombie: it ended, its parent has not reaped it
		}
	}
	t.Fatalf("process %d still runs after the run ended", pid)
}

// TestKillDetachedEngineMidAction kills -9 the engine process while an
// action is in flight: the attached console says the engine is gone, and
// resume reconciles as after any crash.
func TestKillDetachedEngineMidAction(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	stopEngineAtEnd(t, db)
	c := startRepli(t, nil, "run", referenceDrill, "--plain", "--detach", "--auto-approve", "--speed", "5", "--db", db)
	waitRun(t, db, "a shutdown in flight", func(p *engine.Progress) bool {
		for _, a := range p.Actions {
			if a.Intent.Verb == "shutdown" && a.Result == engine.ActionInDoubt {
				return true
			}
		}
		return false
	})
	if err := syscall.Kill(enginePID(t, db), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := c.exit(t, time.Minute, "the attached console"); code != 3 {
		t.Errorf("console after its engine was killed: exit %d, want 3\n%s%s", code, c.out.String(), c.errOut.String())
	}
	if out := c.out.String() + c.errOut.String(); !strings.Contains(out, "repli resume 1") {
		t.Errorf("the console does not say how to carry on:\n%s", out)
	}
	if st := standing(t, db); st != session.StandingInterrupted {
		t.Errorf("after the engine's death the run shows as %q, want %q", st, session.StandingInterrupted)
	}
	r := runRepli(t, "", "resume", "1", "--auto-approve", "--plain", "--foreground", "--db", db, "--take-over", "engine killed in a test")
	if r.code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !checkNoRepeatedActions(t, db) {
		t.Error("resume found no action in doubt: the kill did not land mid-action")
	}
}

// TestAttachRefusals: attach says why it cannot drive a run.
func TestAttachRefusals(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	stopEngineAtEnd(t, db)
	r := runRepli(t, "", "run", referenceDrill, "--plain", "--auto-approve", "--speed", "20", "--db", db)
	if r.code != 0 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	r = runRepli(t, "", "attach", "1", "--plain", "--db", db)
	if r.code != 2 || !strings.Contains(r.stderr, "already ended") {
		t.Errorf("attach to an ended run: exit %d %s", r.code, r.stderr)
	}
	// A foreground run at a gate, its console there: attach points to watch.
	db2 := filepath.Join(t.TempDir(), "audit.db")
	stopEngineAtEnd(t, db2)
	c := startRepli(t, nil, "run", referenceDrill, "--plain", "--db", db2)
	waitRun(t, db2, "the first gate", gateOpen("announce"))
	r = runRepli(t, "", "attach", "1", "--plain", "--db", db2)
	if r.code != 2 || !strings.Contains(r.stderr, "repli watch 1") {
		t.Errorf("attach to a foreground run: exit %d %s", r.code, r.stderr)
	}
	c.kill()
	r = runRepli(t, "", "attach", "1", "--plain", "--db", db2)
	if r.code != 2 || !strings.Contains(r.stderr, "repli resume 1") {
		t.Errorf("attach to a run whose console died: exit %d %s", r.code, r.stderr)
	}
}

// litestreamFor is the real litestream for the engine: $REPLI_LITESTREAM
// (make test sets it), or beside the repli under test (bin/tools).
func litestreamFor(t *testing.T) []string {
	t.Helper()
	if p := os.Getenv("REPLI_LITESTREAM"); p != "" {
		return []string{"REPLI_LITESTREAM=" + p}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e2eBinary(t)), "tools", "litestream")); err == nil {
		return nil
	}
	msg := "litestream not installed: run make deps-replica (or set REPLI_LITESTREAM)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return nil
}

// TestTrailLostResumedAtTheOtherSite replicates the trail to a file://
// directory (a mount from the other site) during a drill, loses the
// primary's trail and its engine with it, restores it at the other site,
// and carries the run on there.
func TestTrailLostResumedAtTheOtherSite(t *testing.T) {
	t.Parallel()
	env := litestreamFor(t)
	siteA, siteB, rep := t.TempDir(), t.TempDir(), t.TempDir()
	env = append(env, "REPLI_REPLICA=file://"+rep)
	db := filepath.Join(siteA, "audit.db")
	stopEngineAtEnd(t, db)

	c := startRepli(t, env, "run", referenceDrill, "--plain", "--detach", "--speed", "5", "--db", db)
	c.answer("y\ny\ny\nprimary\n")
	waitRun(t, db, "the shutdowns at the primary", stepRunning("stop-primary"))
	pid := enginePID(t, db)
	log, _ := os.ReadFile(db + ".run-1.log")
	for _, gate := range []string{"announce", "stop-primary"} {
		if !strings.Contains(string(log), "replica lag at the gate of "+gate+": in step") {
			t.Errorf("no replica wait at the gate of %s in the engine's log:\n%s", gate, log)
		}
	}
	// The site burns mid-step: the engine dies, the trail is gone.
	syscall.Kill(pid, syscall.SIGKILL)
	c.kill()
	waitGone(t, pid)
	lost := time.Now()
	for _, f := range []string{db, db + "-wal", db + "-shm"} {
		os.Remove(f)
	}

	other := filepath.Join(siteB, "audit.db")
	stopEngineAtEnd(t, other)
	r := runRepliEnv(t, env, "", "trail", "restore", "file://"+rep, "--db", other)
	if r.code != 0 {
		t.Fatalf("trail restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("MEASURE trail lost → restored at the other site: %s", time.Since(lost).Round(time.Millisecond))
	if v := runRepli(t, "", "verify", "--db", other); v.code != 0 {
		t.Fatalf("verify at the other site: %s %s", v.stdout, v.stderr)
	}
	if h := runRepli(t, "", "history", "--db", other); !strings.Contains(h.stdout, "reference-drill") {
		t.Errorf("history at the other site:\n%s", h.stdout)
	}
	// The replica holds at least every gate decision: the engine waited
	// for it at each before acting.
	p, _, _ := runProgress(t, other)
	if s := p.Steps["stop-primary"]; s == nil || !s.Approved {
		t.Fatalf("the replica lacks the decision at the gate of stop-primary: last seq %d", p.LastSeq)
	}
	copySimState(t, db, other)
	c2 := startRepli(t, nil, "resume", "1", "--take-over", "site A lost", "--auto-approve", "--plain", "--foreground", "--db", other)
	waitRun(t, other, "resumed", func(p *engine.Progress) bool { return len(p.Sessions) > 1 })
	t.Logf("MEASURE trail lost → resumed at the other site: %s", time.Since(lost).Round(time.Millisecond))
	if code := c2.exit(t, time.Minute, "resume at the other site"); code != 0 {
		t.Fatalf("resume at the other site: exit %d\n%s%s", code, c2.out.String(), c2.errOut.String())
	}
	if !checkNoRepeatedActions(t, other) {
		t.Log("no action in doubt at the takeover (the replica stood before the shutdowns)")
	}
}

// TestReplicaStoppedMidRun freezes the replica (SIGSTOP of Litestream)
// during a run: the next gate waits within its bound, then warns in the
// trail and carries on.
func TestReplicaStoppedMidRun(t *testing.T) {
	t.Parallel()
	env := append(litestreamFor(t), "REPLI_REPLICA=file://"+t.TempDir(), "REPLI_REPLICA_WAIT=3s")
	db := filepath.Join(t.TempDir(), "audit.db")
	stopEngineAtEnd(t, db)
	c := startRepli(t, env, "run", referenceDrill, "--plain", "--detach", "--speed", "5", "--db", db)
	waitRun(t, db, "the first gate", gateOpen("announce"))
	ls := childNamed(t, enginePID(t, db), "litestream")
	syscall.Kill(ls, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(ls, syscall.SIGCONT) })
	c.answer("y\ny\ny\n")
	waitRun(t, db, "the gate of stop-primary", gateOpen("stop-primary"))
	p, _, _ := runProgress(t, db)
	var warned bool
	for _, l := range logged(t, db) {
		if l.Step == "announce" && l.Level == "warn" && strings.Contains(l.Message, "replica") && strings.Contains(l.Message, "behind") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning in the trail about the replica at the gate of announce")
	}
	if !p.Steps["secondary-ready"].Passed {
		t.Errorf("the run did not carry on past the gate")
	}
	syscall.Kill(ls, syscall.SIGCONT)
	c.answer("primary\ny\ny\n")
	if code := c.exit(t, time.Minute, "the run"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, c.out.String(), c.errOut.String())
	}
}

func logged(t *testing.T, db string) []*engine.Logged {
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
	var out []*engine.Logged
	for _, ev := range evs {
		if l, ok := ev.(*engine.Logged); ok {
			out = append(out, l)
		}
	}
	return out
}

// childNamed is the pid of a child process of pid running name.
func childNamed(t *testing.T, pid int, name string) int {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			cpid, _ := strconv.Atoi(c)
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cpid)); strings.TrimSpace(string(comm)) == name {
				return cpid
			}
		}
	}
	t.Fatalf("process %d has no child %s", pid, name)
	return 0
}

// TestOneConsoleDrivesADetachedRun: a second console is refused while one
// is attached, and takes the run over only with a reason, recorded.
func TestOneConsoleDrivesADetachedRun(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	stopEngineAtEnd(t, db)
	a := startRepli(t, nil, "run", referenceDrill, "--plain", "--detach", "--speed", "5", "--db", db)
	waitRun(t, db, "the first gate", gateOpen("announce"))
	r := runRepli(t, "", "attach", "1", "--plain", "--db", db)
	if r.code != 2 || !strings.Contains(r.stderr, "driven from another console") || !strings.Contains(r.stderr, "--take-over") {
		t.Fatalf("a second console: exit %d\n%s", r.code, r.stderr)
	}
	r = runRepliEnv(t, []string{"SUDO_USER=bob"}, "y\ny\ny\nprimary\ny\ny\n", "attach", "1", "--plain", "--db", db, "--take-over", "alice's laptop froze")
	if r.code != 0 {
		t.Fatalf("take over: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if code := a.exit(t, time.Minute, "the first console"); code != 3 || !strings.Contains(a.errOut.String(), "took this run over") {
		t.Errorf("the first console after the takeover: exit %d\n%s", code, a.errOut.String())
	}
	p, _, _ := runProgress(t, db)
	var noted bool
	for _, n := range p.Notes {
		noted = noted || (n.Operator == "bob" && strings.Contains(n.Text, "alice's laptop froze"))
	}
	if !noted || p.Ended == nil || p.Ended.Outcome != engine.OutcomeSucceeded {
		t.Errorf("takeover noted %v, run ended %+v", noted, p.Ended)
	}
}

// TestTrailReplicatedOverSFTP: the same drill with the replica on a real
// sshd at "the other site" (host key pinned), the primary's trail lost,
// restored over sftp, verified and resumed there.
func TestTrailReplicatedOverSFTP(t *testing.T) {
	t.Parallel()
	env := litestreamFor(t)
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := libvirtlab.StartSSHD(t, dir, libvirtlab.SSHHost{Alias: "site-b"})
	remote := filepath.Join(d.Dir, "site-b", "repli")
	if err := os.MkdirAll(remote, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Dir(remote), remote} {
		if err := os.Chown(p, d.UID, d.GID); err != nil {
			t.Fatal(err)
		}
	}
	known, err := os.ReadFile(filepath.Join(d.Home, ".ssh", "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	u := fmt.Sprintf("sftp://%s@127.0.0.1:%d%s", d.User, d.Port, remote)
	env = append(env, "REPLI_REPLICA="+u,
		"REPLI_REPLICA_IDENTITY="+filepath.Join(d.Home, ".ssh", "id_site-b"),
		"REPLI_REPLICA_HOST_KEY="+strings.Join(strings.Fields(string(known))[1:3], " "))
	db := filepath.Join(t.TempDir(), "audit.db")
	stopEngineAtEnd(t, db)
	c := startRepli(t, env, "run", referenceDrill, "--plain", "--detach", "--speed", "5", "--db", db)
	c.answer("y\ny\ny\nprimary\n")
	waitRun(t, db, "the gate of start-secondary", gateOpen("start-secondary"))
	pid := enginePID(t, db)
	// The run waits for a person: the replica is told to ship at once.
	log := waitLog(t, db+".run-1.log", "replica lag with the gate of start-secondary open: in step")
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "replica lag") {
			t.Logf("MEASURE over sftp: %s", l)
		}
	}
	if !strings.Contains(log, "replica lag at the gate of stop-primary: in step") {
		t.Errorf("no replica wait at the gate of stop-primary over sftp:\n%s\nsshd:\n%s", log, d.Log())
	}
	syscall.Kill(pid, syscall.SIGKILL)
	c.kill()
	waitGone(t, pid)
	pp, _, _ := runProgress(t, db)
	primarySeq := pp.LastSeq
	lost := time.Now()
	for _, f := range []string{db, db + "-wal", db + "-shm"} {
		os.Remove(f)
	}
	other := filepath.Join(t.TempDir(), "audit.db")
	stopEngineAtEnd(t, other)
	if r := runRepliEnv(t, env, "", "trail", "restore", u, "--db", other); r.code != 0 {
		t.Fatalf("trail restore over sftp: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("MEASURE trail lost → restored over sftp: %s", time.Since(lost).Round(time.Millisecond))
	if v := runRepli(t, "", "verify", "--db", other); v.code != 0 {
		t.Fatalf("verify at the other site: %s %s", v.stdout, v.stderr)
	}
	if p, _, _ := runProgress(t, other); p.LastSeq != primarySeq || p.Gate == nil || p.Gate.Step != "start-secondary" {
		t.Errorf("the replica holds %d events, the primary had %d: the open gate is not at the other site", p.LastSeq, primarySeq)
	}
	// The simulated world is the same at both sites (the VMs are where
	// they are): its state goes along, as the real VMs would.
	copySimState(t, db, other)
	r := runRepli(t, "", "resume", "1", "--take-over", "site A lost", "--auto-approve", "--plain", "--foreground", "--db", other)
	if r.code != 0 {
		t.Fatalf("resume at the other site: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("MEASURE trail lost → run finished at the other site: %s", time.Since(lost).Round(time.Millisecond))
	checkNoRepeatedActions(t, other)
}

// copySimState carries the simulated lab's state (the VMs' states) from
// one trail's place to another's.
func copySimState(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from + ".sim-run-1.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to+".sim-run-1.json", b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits until the file at path holds text, and returns it.
func waitLog(t *testing.T, path, text string) string {
	t.Helper()
	var b []byte
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, _ = os.ReadFile(path); strings.Contains(string(b), text) {
			return string(b)
		}
	}
	t.Fatalf("%s never said %q:\n%s", path, text, b)
	return ""
}
