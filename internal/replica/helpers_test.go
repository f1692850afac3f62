package replica

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

// litestreamBin is the real litestream: $REPLI_LITESTREAM (make test sets
// it) or bin/tools/litestream of this checkout. Without it the test is
// skipped, or fails under CI=true.
func litestreamBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("REPLI_LITESTREAM"); p != "" {
		return p
	}
	dir, _ := os.Getwd()
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "tools", "litestream")
			if _, err := exec.LookPath(p); err == nil {
				return p
			}
			break
		}
	}
	msg := "litestream not installed: run make deps-replica (or set REPLI_LITESTREAM)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// trail is a real audit trail in its own directory, written through store
// as the engine writes it.
type trail struct {
	t    testing.TB
	path string
	s    *store.Store
	run  int64
	seq  int64
}

func newTrail(t testing.TB) *trail {
	t.Helper()
	path := filepath.Join(t.TempDir(), "site-a", "audit.db")
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	run, err := s.CreateRun(context.Background(), store.RunInfo{
		Runbook: "erp", Title: "Fail over ERP", File: "runbooks/erp.yaml", Mode: "test",
		Operator: "alice", Host: "bastion-1", RTOTarget: 15 * time.Minute, StartedAt: time.Now(),
	})
	if err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	tr := &trail{t: t, path: path, s: s, run: run}
	tr.append(&engine.RunStarted{Runbook: "erp", Title: "Fail over ERP", File: "runbooks/erp.yaml", Mode: "test",
		Operator: "alice", Host: "bastion-1", RTOTarget: 15 * time.Minute, TimeScale: 1})
	return tr
}

// append journals one event, one transaction, as the engine does.
func (tr *trail) append(ev engine.Event) {
	tr.t.Helper()
	tr.seq++
	m := ev.EventMeta()
	m.RunID, m.Seq, m.At = tr.run, tr.seq, time.Now()
	if err := tr.s.Append(context.Background(), ev); err != nil {
		tr.t.Fatalf("Append #%d: %v", tr.seq, err)
	}
}

// steps journals n log lines, as steps running would.
func (tr *trail) steps(n int) {
	tr.t.Helper()
	for i := 0; i < n; i++ {
		tr.append(&engine.Logged{Step: fmt.Sprintf("step-%d", tr.seq), Level: "info", Message: "vm-db is shut off"})
	}
}

// end journals the run's end.
func (tr *trail) end() {
	tr.t.Helper()
	tr.append(&engine.RunEnded{Outcome: engine.OutcomeSucceeded, Duration: time.Minute, RTOTarget: 15 * time.Minute, RTOAchieved: time.Minute})
}

// lose is the site burning: the trail, its WAL and Litestream's local state
// are gone.
func (tr *trail) lose() {
	tr.t.Helper()
	tr.s.Close()
	dir := filepath.Dir(tr.path)
	if err := os.RemoveAll(dir); err != nil {
		tr.t.Fatal(err)
	}
	if _, err := os.Stat(tr.path); err == nil {
		tr.t.Fatal("the trail is still there")
	}
}

// checkRestored opens a restored trail at the other site and checks that
// it verifies and holds the run with every event written.
func checkRestored(t testing.TB, path string, run int64, events int64) {
	t.Helper()
	ctx := context.Background()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("restored trail: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("restored trail mode %v, want 0600", info.Mode().Perm())
	}
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatalf("open the restored trail: %v", err)
	}
	defer s.Close()
	v, err := s.Verify(ctx, run)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !v.OK {
		t.Fatalf("restored trail does not verify: %+v", v)
	}
	if v.RunCount != events {
		t.Errorf("run %d has %d events at the other site, want %d", run, v.RunCount, events)
	}
	r, err := s.Run(ctx, run)
	if err != nil {
		t.Fatalf("Run(%d): %v", run, err)
	}
	if r.Runbook != "erp" || r.Operator != "alice" {
		t.Errorf("restored run = %+v", r)
	}
}

// startSidecar starts the real litestream on tr and stops it at the end.
func startSidecar(t testing.TB, tr *trail, url string, o Options) *Sidecar {
	t.Helper()
	o.Binary = litestreamBin(t)
	sc, err := Start(context.Background(), tr.path, url, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		sc.Close()
		if t.Failed() {
			b, _ := os.ReadFile(sc.LogPath())
			t.Logf("litestream log:\n%s", b)
		}
	})
	return sc
}
