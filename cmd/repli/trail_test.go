package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/repli-dr/repli/internal/replica"
	"github.com/repli-dr/repli/store"
)

// litestreamForTest is the real litestream ($REPLI_LITESTREAM, which make
// test sets, or bin/tools/litestream); skipped without it, failed under
// CI=true.
func litestreamForTest(t *testing.T) string {
	t.Helper()
	p := os.Getenv("REPLI_LITESTREAM")
	if p == "" {
		p, _ = filepath.Abs(filepath.Join("..", "..", "bin", "tools", "litestream"))
	}
	if _, err := exec.LookPath(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("litestream not installed (%v): run make deps-replica", err)
		}
		t.Skipf("litestream not installed (%v): run make deps-replica", err)
	}
	return p
}

// The console's site is lost during a drill: one run ended, one stopped at
// a gate. At the other site the trail is restored from its replica, it
// verifies, history shows both runs, and the stopped one is carried on to
// its end there.
func TestTrailRestoredAtTheOtherSite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bin := litestreamForTest(t)
	siteA, siteB := t.TempDir(), t.TempDir()
	db := filepath.Join(siteA, "audit.db")
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	url := "file://" + filepath.Join(siteB, "replica")
	sc, err := replica.Start(ctx, db, url, replica.Options{Binary: bin, MinBackoff: time.Hour, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })

	// Run 1 waits at its first gate when the site is lost.
	c := startRepli(t, nil, "run", referenceDrill, "--plain", "--db", db, "--speed", "10")
	waitEvents(t, db, 3, c.done)
	c.kill()
	// Run 2 is a whole drill.
	if r := runRepli(t, "", "run", "runbooks/examples/annual-pra-test.yaml", "--auto-approve", "--plain", "--db", db, "--speed", "50"); r.code != 0 {
		t.Fatalf("drill: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	lag, err := sc.WaitCaughtUp(ctx, time.Minute)
	if err != nil {
		t.Fatalf("WaitCaughtUp at the run's end: %v", err)
	}
	t.Logf("at the drill's end: %s", lag)

	// The site is lost: litestream killed, the trail gone.
	if err := syscall.Kill(sc.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sc.Close()
	lost := time.Now()
	if err := os.RemoveAll(siteA); err != nil {
		t.Fatal(err)
	}

	there := filepath.Join(siteB, "console", "audit.db")
	env := []string{"REPLI_LITESTREAM=" + bin}
	r := runRepliEnv(t, env, "", "trail", "restore", url, "--db", there)
	if r.code != 0 {
		t.Fatalf("trail restore: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	restored := time.Since(lost)
	for _, want := range []string{"restored " + there, "ok: ", "chain intact", "run 1 (reference-drill) did not end", `repli resume 1 --take-over "site lost"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("trail restore output lacks %q:\n%s", want, r.stdout)
		}
	}
	if v := runRepli(t, "", "verify", "--db", there); v.code != 0 || !strings.HasPrefix(v.stdout, "ok:") {
		t.Fatalf("verify at the other site: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	h := runRepli(t, "", "history", "--db", there, "--json")
	var runs []struct {
		ID      int64  `json:"id"`
		Runbook string `json:"runbook"`
		Outcome string `json:"outcome"`
	}
	if err := json.Unmarshal([]byte(h.stdout), &runs); err != nil || len(runs) != 2 {
		t.Fatalf("history at the other site: %v\n%s%s", err, h.stdout, h.stderr)
	}
	if runs[0].Outcome != "succeeded" || runs[0].Runbook != "annual-pra-test" {
		t.Errorf("the whole drill at the other site: %+v", runs[0])
	}
	res := runRepli(t, "", "resume", "1", "--auto-approve", "--plain", "--db", there, "--take-over", "site lost")
	if res.code != 0 {
		t.Fatalf("resume --take-over at the other site: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	t.Logf("trail lost → restored at the other site in %s; → run resumed and ended there in %s", restored.Round(time.Millisecond), time.Since(lost).Round(time.Millisecond))
	if v := runRepli(t, "", "verify", "--db", there); v.code != 0 {
		t.Fatalf("verify after the resume: %s%s", v.stdout, v.stderr)
	}

	// A second restore onto the trail is refused: it never overwrites.
	if r := runRepliEnv(t, env, "", "trail", "restore", url, "--db", there); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("restore onto a trail: exit %d\n%s", r.code, r.stderr)
	}
}
