package replica

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gateBound is how long a test lets the replica take to catch up when
// nothing is wrong: generous, since seven builds share the machine.
const gateBound = 60 * time.Second

// The trail replicated to a directory (a mount from the other site), the
// site lost, the trail restored there: it verifies and holds the run.
func TestReplicateToFileAndRestore(t *testing.T) {
	ctx := context.Background()
	tr := newTrail(t)
	otherSite := t.TempDir()
	url := "file://" + filepath.Join(otherSite, "replica")
	// Backoff of an hour: once killed, litestream stays down.
	sc := startSidecar(t, tr, url, Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})

	tr.steps(20) // up to a gate
	start := time.Now()
	lag, err := sc.WaitCaughtUp(ctx, gateBound)
	if err != nil {
		t.Fatalf("WaitCaughtUp at the gate: %v", err)
	}
	t.Logf("replica caught up at the gate (21 events) in %s: %s", time.Since(start).Round(time.Millisecond), lag)
	if !lag.CaughtUp || lag.LocalTXID == 0 || lag.ReplicaTXID < lag.LocalTXID {
		t.Fatalf("WaitCaughtUp returned %+v, not caught up", lag)
	}
	tr.steps(10)
	tr.end()
	start = time.Now()
	end, err := sc.WaitCaughtUp(ctx, gateBound)
	if err != nil {
		t.Fatalf("WaitCaughtUp at the run's end: %v", err)
	}
	t.Logf("replica caught up at the run's end in %s", time.Since(start).Round(time.Millisecond))
	if end.ReplicaTXID <= lag.ReplicaTXID {
		t.Errorf("replica txid %d after 11 more events, was %d at the gate", end.ReplicaTXID, lag.ReplicaTXID)
	}
	if !strings.Contains(sc.Status(), "in step") || !strings.Contains(sc.Status(), url) {
		t.Errorf("Status() = %q", sc.Status())
	}
	if _, err := os.Stat(tr.path + ".litestream.log"); err != nil {
		t.Errorf("litestream's log is not beside the trail: %v", err)
	}
	cfg, err := os.Stat(sc.config)
	if err != nil || cfg.Mode().Perm() != 0o600 {
		t.Errorf("litestream config %s: %v, mode %v; want 0600", sc.config, err, cfg.Mode().Perm())
	}

	// The site burns: litestream is killed, with no chance to ship more
	// than WaitCaughtUp already made sure of.
	burn(t, sc)
	lost := time.Now()
	tr.lose()
	restored := filepath.Join(otherSite, "console", "audit.db")
	if err := Restore(ctx, url, restored, Options{Binary: litestreamBin(t)}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	t.Logf("trail lost → restored at the other site in %s", time.Since(lost).Round(time.Millisecond))
	checkRestored(t, restored, tr.run, tr.seq)

	// A restore never overwrites a trail.
	if err := Restore(ctx, url, restored, Options{Binary: litestreamBin(t)}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second Restore onto the trail: %v, want a refusal", err)
	}
}

// Litestream killed mid-run: the lag says so, a gate's wait ends at its
// bound with ErrBehind, and once it runs again the replica catches up with
// everything written while it was down.
func TestReplicaKilledMidRun(t *testing.T) {
	ctx := context.Background()
	tr := newTrail(t)
	url := "file://" + filepath.Join(t.TempDir(), "replica")
	// Backoff of an hour: litestream stays down until Restart.
	sc := startSidecar(t, tr, url, Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	tr.steps(5)
	if _, err := sc.WaitCaughtUp(ctx, gateBound); err != nil {
		t.Fatalf("WaitCaughtUp before the kill: %v", err)
	}

	pid := sc.PID()
	if pid == 0 {
		t.Fatal("no litestream running")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "notice of litestream's death", func() bool { return sc.PID() == 0 })
	tr.steps(5)

	lag, err := sc.Lag(ctx)
	if err == nil || lag.Running || lag.CaughtUp {
		t.Fatalf("Lag with litestream dead = %+v, %v; want down and an error", lag, err)
	}
	if !strings.Contains(lag.String(), "replica down") || !strings.Contains(lag.String(), "signal: killed") || !strings.Contains(lag.String(), "last in step") {
		t.Errorf("Lag.String() = %q", lag.String())
	}
	if !strings.Contains(sc.Status(), "replica down") || !strings.HasPrefix(sc.Last().Short(), "replica ✗ down") {
		t.Errorf("Status() = %q", sc.Status())
	}

	bound := time.Second
	start := time.Now()
	lag, err = sc.WaitCaughtUp(ctx, bound)
	t.Logf("WaitCaughtUp(%s) with litestream dead returned after %s: %v", bound, time.Since(start).Round(time.Millisecond), err)
	if !errors.Is(err, ErrBehind) || lag.CaughtUp {
		t.Fatalf("WaitCaughtUp with litestream dead = %+v, %v; want ErrBehind", lag, err)
	}

	sc.Restart()
	waitFor(t, "new litestream", func() bool { return sc.PID() != 0 && sc.PID() != pid })
	lag, err = sc.WaitCaughtUp(ctx, gateBound)
	if err != nil || !lag.CaughtUp {
		t.Fatalf("WaitCaughtUp after the restart = %+v, %v", lag, err)
	}
	tr.end()
	if _, err := sc.WaitCaughtUp(ctx, gateBound); err != nil {
		t.Fatalf("WaitCaughtUp at the end: %v", err)
	}

	burn(t, sc)
	tr.lose()
	restored := filepath.Join(t.TempDir(), "audit.db")
	if err := Restore(ctx, url, restored, Options{Binary: litestreamBin(t)}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	checkRestored(t, restored, tr.run, tr.seq)
}

// A configuration Litestream refuses is Start's error, with Litestream's
// words, not a process restarted forever.
func TestStartRefusedByLitestream(t *testing.T) {
	tr := newTrail(t)
	// An S3 URL with no bucket passes through repli and is Litestream's to
	// refuse.
	_, err := Start(context.Background(), tr.path, "s3://", Options{Binary: litestreamBin(t)})
	if err == nil {
		t.Fatal("Start with s3:// (no bucket) succeeded")
	}
	if !strings.Contains(err.Error(), "litestream exited at start") {
		t.Errorf("error = %v", err)
	}
	t.Log(err)
}

// Restore from a place that holds no replica says so.
func TestRestoreNothingThere(t *testing.T) {
	empty := t.TempDir()
	dst := filepath.Join(t.TempDir(), "audit.db")
	err := Restore(context.Background(), "file://"+empty, dst, Options{Binary: litestreamBin(t)})
	if !errors.Is(err, ErrNoReplica) {
		t.Fatalf("Restore from an empty directory: %v, want ErrNoReplica", err)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Error("a failed restore left a file behind")
	}
}

// burn kills litestream as a lost site would: SIGKILL, no last shipment.
// The sidecar must have a long backoff, so that it is not started again.
func burn(t *testing.T, sc *Sidecar) {
	t.Helper()
	pid := sc.PID()
	if pid == 0 {
		t.Fatal("no litestream running")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "notice of litestream's death", func() bool { return sc.PID() == 0 })
	sc.Close()
}

// waitFor polls cond until it holds, for a minute at most.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The other site unreachable mid-run (its mount gone): a gate's wait ends
// at its bound with ErrBehind and the cause, litestream keeps trying, and
// once the mount is back the replica catches up with everything.
func TestOtherSiteUnreachableMidRun(t *testing.T) {
	ctx := context.Background()
	tr := newTrail(t)
	mount := filepath.Join(t.TempDir(), "site-b")
	url := "file://" + filepath.Join(mount, "replica")
	sc := startSidecar(t, tr, url, Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	tr.steps(5)
	if _, err := sc.WaitCaughtUp(ctx, gateBound); err != nil {
		t.Fatalf("WaitCaughtUp before the outage: %v", err)
	}

	// The mount goes away, and a plain file stands where it was: nothing
	// can be written under it, not even by root.
	if err := os.Rename(mount, mount+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mount, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tr.steps(5)
	lag, err := sc.WaitCaughtUp(ctx, 3*time.Second)
	if !errors.Is(err, ErrBehind) || lag.CaughtUp {
		t.Fatalf("WaitCaughtUp with the other site gone = %+v, %v; want ErrBehind", lag, err)
	}
	if !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("the error does not give the cause: %v", err)
	}
	t.Log(err)
	if l := sc.Last(); l.CaughtUp || !strings.Contains(sc.Status(), "last in step") {
		t.Errorf("Status with the other site gone: %q", sc.Status())
	}

	// The mount is back.
	if err := os.Remove(mount); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(mount+".away", mount); err != nil {
		t.Fatal(err)
	}
	tr.end()
	if lag, err := sc.WaitCaughtUp(ctx, gateBound); err != nil || !lag.CaughtUp {
		t.Fatalf("WaitCaughtUp with the other site back = %+v, %v", lag, err)
	}
	burn(t, sc)
	tr.lose()
	restored := filepath.Join(t.TempDir(), "audit.db")
	if err := Restore(ctx, url, restored, Options{Binary: litestreamBin(t)}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	checkRestored(t, restored, tr.run, tr.seq)
}

// One Litestream per trail: a second console on the same trail measures
// through the first one's; another URL is refused while it runs.
func TestOneLitestreamPerTrail(t *testing.T) {
	ctx := context.Background()
	tr := newTrail(t)
	url := "file://" + filepath.Join(t.TempDir(), "replica")
	first := startSidecar(t, tr, url, Options{})
	second := startSidecar(t, tr, url, Options{})
	if second.PID() != 0 || second.attached == nil {
		t.Fatalf("the second sidecar runs its own litestream (pid %d)", second.PID())
	}
	tr.steps(5)
	if lag, err := second.WaitCaughtUp(ctx, gateBound); err != nil || !lag.CaughtUp {
		t.Fatalf("WaitCaughtUp through the first console's litestream = %+v, %v", lag, err)
	}
	if st := second.Status(); !strings.Contains(st, "shipped by console pid") {
		t.Errorf("Status() = %q", st)
	}
	other := "file://" + filepath.Join(t.TempDir(), "elsewhere")
	if _, err := Start(ctx, tr.path, other, Options{Binary: litestreamBin(t)}); !errors.Is(err, ErrOtherReplica) {
		t.Fatalf("Start to another URL while replicated: %v, want ErrOtherReplica", err)
	}

	// The second console leaving stops nothing.
	second.Close()
	tr.steps(5)
	if _, err := first.WaitCaughtUp(ctx, gateBound); err != nil {
		t.Fatalf("WaitCaughtUp after the second console left: %v", err)
	}
	// The first one leaving frees the trail.
	first.Close()
	third := startSidecar(t, tr, other, Options{})
	if third.PID() == 0 {
		t.Fatal("no litestream after the first console left")
	}
	if _, err := third.WaitCaughtUp(ctx, gateBound); err != nil {
		t.Fatalf("WaitCaughtUp of the new replica: %v", err)
	}
	third.Close()
	restored := filepath.Join(t.TempDir(), "audit.db")
	if err := Restore(ctx, other, restored, Options{Binary: litestreamBin(t)}); err != nil {
		t.Fatalf("Restore from the new replica: %v", err)
	}
	checkRestored(t, restored, tr.run, tr.seq)
}
