package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRPOMeasuredInHistoryAndEvidence: a run records two recovery points,
// a time a replication command printed and a backup file's modification
// time; the older one is the run's. history --json gives the RPO achieved
// (the run's start minus that point) against the runbook's 15m, and the
// evidence document's RPO section says where it came from and that it
// failed its target.
func TestRPOMeasuredInHistoryAndEvidence(t *testing.T) {
	t.Parallel()
	oldest := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	backup := filepath.Join(t.TempDir(), "backup.age")
	if err := os.WriteFile(backup, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(backup, oldest.Add(6*time.Hour), oldest.Add(6*time.Hour)); err != nil {
		t.Fatal(err)
	}
	plan := writeRunbook(t, `version: 1
name: replicated
rpo: 15m
sites:
  primary: {uri: sim://primary}
steps:
  - id: last-pass
    exec: {command: [echo, "`+oldest.Format(time.RFC3339)+`"], recovery_point: stdout}
  - id: backup-fresh
    check: {file: `+backup+`, max_age: 87600h, recovery_point: true}
`)
	db := filepath.Join(t.TempDir(), "audit.db")
	// The backup is older than the RPO: a preflight blocker, overridden.
	if r := runRepli(t, "", "run", plan, "--auto-approve", "--plain", "--db", db, "--force-unready", "measuring a missed RPO"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	h := runRepli(t, "", "history", "--db", db, "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(h.stdout), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("history --json: exit %d, %v\n%s%s", h.code, err, h.stdout, h.stderr)
	}
	row := rows[0]
	started, err := time.Parse(time.RFC3339, row["started_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := row["rpo_achieved_s"].(float64)
	// started_at is to the second: the measure is within a second of it.
	if want := started.Sub(oldest).Seconds(); !ok || math.Abs(got-want) > 1 {
		t.Errorf("rpo_achieved_s %v, want about %.0f (the run's start minus the oldest recovery point)", row["rpo_achieved_s"], want)
	}
	if row["rpo_target_s"] != 900.0 || row["rpo_met"] != false {
		t.Errorf("rpo_target_s %v rpo_met %v, want 900 and false", row["rpo_target_s"], row["rpo_met"])
	}

	rpo := loadRun(t, db, 1).Doc.Objectives.RPO
	if !rpo.Measured || rpo.Verdict() != "fail" || rpo.Target != 15*time.Minute || !rpo.From.Equal(oldest) || rpo.FromStep != "last-pass" {
		t.Errorf("evidence RPO %+v → %s", rpo, rpo.Verdict())
	}
	if !strings.Contains(rpo.Basis, "last-pass") || !strings.Contains(rpo.Basis, "printed by echo") {
		t.Errorf("RPO basis: %q", rpo.Basis)
	}
}
