package store

import (
	"context"
	"strings"
	"testing"
)

// TestVerifyCatchesEditedRunsRow edits only the runs table, one shown field
// at a time, as someone with the file and a sqlite3 shell would, and checks
// that verify names the run and the field.
func TestVerifyCatchesEditedRunsRow(t *testing.T) {
	t.Parallel()
	tr := newTrail(t)
	tests := []struct {
		field, set string
		says       string
	}{
		{"outcome", "outcome = 'failed'", "outcome"},
		{"reason", "reason = 'power cut at the DR site'", "reason"},
		{"RTO achieved", "rto_achieved_ns = 60000000000", "rto_achieved"},
		{"RTO achieved removed", "rto_achieved_ns = NULL", "rto_achieved"},
		{"RTO target", "rto_target_ns = 3600000000000", "rto_target"},
		{"operator", "operator = 'alice'||'x'", "operator"},
		{"started at", "started_at = '2025-11-21T03:12:04.123456789Z'", "started_at"},
		{"ended at", "ended_at = '2025-11-23T03:12:04Z'", "ended_at"},
		{"mode", "mode = 'live'", "mode"},
		{"runbook", "runbook = 'payroll'", "runbook"},
		{"title", "title = 'Annual test'", "title"},
		{"file", "file = 'runbooks/other.yaml'", "file"},
		{"digest", "sha256 = '" + strings.Repeat("cd", 32) + "'", "sha256"},
		{"host", "host = 'bastion-9'", "host"},
		{"auto-approve", "auto_approve = 1", "auto_approve"},
		{"start event", "start_event_id = 2", "start_event_id"},
		{"hidden as never started", "start_event_id = NULL", "never started"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			t.Parallel()
			path := tr.copyTo(t)
			a := attack(t, path)
			a.exec("UPDATE runs SET " + tt.set + " WHERE id = 1")
			a.db.Close()
			s, err := OpenReadOnly(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			v, err := s.Verify(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if v.OK || v.Break != BreakIndex || v.BadRun != 1 || !strings.Contains(v.Problem, tt.says) || !strings.Contains(v.Problem, "run 1") {
				t.Errorf("after SET %s: Verify = ok %v, break %q, run %d, %q; want the runs table of run 1 named as edited (%s)",
					tt.set, v.OK, v.Break, v.BadRun, v.Problem, tt.says)
			}
		})
	}
}

// TestVerifyCatchesEditedRunningRow: a run still running, marked as ended
// well in the runs table alone.
func TestVerifyCatchesEditedRunningRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTemp(t)
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents(""))
	s.Close()
	for _, set := range []string{"outcome = 'succeeded'", "rto_achieved_ns = 1", "reason = 'done by hand'"} {
		p := copyTrail(t, path)
		a := attack(t, p)
		a.exec("UPDATE runs SET " + set)
		a.db.Close()
		r, err := OpenReadOnly(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		v, err := r.Verify(ctx, 0)
		r.Close()
		if err != nil || v.OK || v.Break != BreakIndex || !strings.Contains(v.Problem, "has not ended") {
			t.Errorf("after SET %s: Verify = %+v, %v", set, v, err)
		}
	}
}

// copyTrail copies the trail at path into a new directory of the test.
func copyTrail(t *testing.T, path string) string {
	t.Helper()
	p := t.TempDir() + "/audit.db"
	copyFile(t, path, p)
	return p
}
