package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

// base is when the test runs happen; nanoseconds check that times survive
// the round trip exactly.
var base = time.Date(2025, 11, 22, 3, 12, 4, 123456789, time.UTC)

// openTemp opens a new audit trail in its own temporary directory.
func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func createRun(t testing.TB, s *Store, runbook string) int64 {
	t.Helper()
	id, err := s.CreateRun(context.Background(), RunInfo{
		Runbook: runbook, Title: "Fail over " + runbook, File: "runbooks/" + runbook + ".yaml",
		SHA256: strings.Repeat("ab", 32), Mode: "test", Operator: "alice", Host: "bastion-1",
		RTOTarget: 15 * time.Minute, StartedAt: base,
	})
	if err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	return id
}

// failoverEvents is what the engine journals for a one-step failover that
// goes through a gate, an action, the RTO clock and ends with outcome.
// With outcome "" the run is still running (no run.ended).
func failoverEvents(outcome engine.Outcome) []engine.Event {
	evs := []engine.Event{
		&engine.RunStarted{Runbook: "erp", Title: "Fail over ERP", File: "runbooks/erp.yaml", SHA256: strings.Repeat("ab", 32),
			Source: "name: erp\n", Mode: "test", Operator: "alice", Host: "bastion-1", SSHClient: "10.0.0.5 52144 10.0.0.1 22",
			Version: "v0.1.0", Sites: map[string]string{"primary": "qemu+ssh://kvm-a/system", "dr": "qemu+ssh://kvm-b/system"},
			RTOTarget: 15 * time.Minute, TimeScale: 1},
		&engine.StepChanged{Step: "stop-primary", State: engine.StepWaiting},
		&engine.GateOpened{Step: "stop-primary", Gate: "confirm", Prompt: "Stop vm-db on primary?", Expect: "vm-db", Checklist: []string{"DBA informed"}},
		&engine.ChecklistTicked{Step: "stop-primary", Item: 0, Text: "DBA informed", Operator: "alice"},
		&engine.GateDecided{Step: "stop-primary", Approved: true, Operator: "alice", Typed: "vm-db", Waited: 42 * time.Second},
		&engine.RTOStarted{Step: "stop-primary"},
		&engine.StepChanged{Step: "stop-primary", State: engine.StepRunning},
		&engine.ActionIntent{Action: 1, Step: "stop-primary", Site: "primary", URI: "qemu+ssh://kvm-a/system", Domain: "vm-db", Verb: "shutdown"},
		&engine.ActionOutcome{Action: 1, Step: "stop-primary", Site: "primary", Domain: "vm-db", Verb: "shutdown", OK: true, Duration: 7 * time.Second},
		&engine.Logged{Step: "stop-primary", Level: "info", Message: "vm-db is shut off"},
		&engine.NoteAdded{Operator: "alice", Text: "replica lag 0s before cut-over"},
		&engine.StepChanged{Step: "stop-primary", State: engine.StepSucceeded},
		&engine.RTOStopped{Step: "stop-primary", Achieved: 4 * time.Minute, Target: 15 * time.Minute},
	}
	if outcome != "" {
		end := &engine.RunEnded{Outcome: outcome, Duration: 5 * time.Minute, RTOTarget: 15 * time.Minute}
		if outcome == engine.OutcomeSucceeded {
			end.RTOAchieved = 4 * time.Minute
		} else {
			end.Reason = "step stop-primary failed: domain not found"
		}
		evs = append(evs, end)
	}
	return evs
}

// appendAll journals events as the engine does: seq from after, one second
// apart, one transaction each.
func appendAll(t testing.TB, s *Store, runID, after int64, evs []engine.Event) {
	t.Helper()
	for i, ev := range evs {
		m := ev.EventMeta()
		m.RunID, m.Seq, m.At = runID, after+int64(i)+1, base.Add(time.Duration(after+int64(i))*time.Second)
		if err := s.Append(context.Background(), ev); err != nil {
			t.Fatalf("Append %s #%d: %v", ev.Kind(), m.Seq, err)
		}
	}
}

// plainDB opens a file the way any SQLite client would: no pragmas of ours.
func plainDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// dirSnapshot is the name, mode and content hash of every file in dir.
func dirSnapshot(t testing.TB, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if !e.IsDir() {
			f, err := os.Open(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(h, f)
			f.Close()
		}
		lines = append(lines, e.Name()+" "+info.Mode().String()+" "+hex.EncodeToString(h.Sum(nil)))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[:16], []byte("SQLite format 3\x00")) {
		t.Fatalf("%s is not a SQLite file", from)
	}
}
