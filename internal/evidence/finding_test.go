package evidence

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/report"
	"github.com/repli-dr/repli/store"
)

// TestFindingAfterTheRun: a finding recorded on an ended run (repli note
// --finding) is in the report's section 10, after the run, with its owner,
// due date and step, and in repli show; the run still verifies.
func TestFindingAfterTheRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Date(2026, 6, 3, 9, 0, 0, 0, time.UTC)
	id, err := s.CreateRun(ctx, store.RunInfo{Runbook: "erp", Mode: "test", Operator: "claire", StartedAt: start})
	if err != nil {
		t.Fatal(err)
	}
	evs := []engine.Event{
		&engine.RunStarted{Runbook: "erp", Source: "name: erp\n", Mode: "test", Operator: "claire", Host: "bastion"},
		&engine.NoteAdded{Operator: "claire", Text: "finding: app-02 slow to stop; owner: ops"},
		&engine.RunEnded{Outcome: engine.OutcomeSucceeded, Duration: time.Minute},
	}
	for i, ev := range evs {
		*ev.EventMeta() = engine.Meta{RunID: id, Seq: int64(i + 1), At: start.Add(time.Duration(i) * time.Minute)}
		if err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddFinding(ctx, id, store.Finding{Operator: "claire", Text: "DNS TTL of 1 day delays the switch", Owner: "Jean Dupont", Due: "2027-01-15", Step: "dns"}); err != nil {
		t.Fatal(err)
	}
	r, err := Load(ctx, s, id, Options{Now: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	fs := r.Doc.Findings
	if len(fs) != 2 {
		t.Fatalf("findings = %+v, want the note's and the one after the run", fs)
	}
	want := report.Finding{ID: "F2", At: fs[1].At, By: "claire", Step: "dns", Text: "DNS TTL of 1 day delays the switch", Owner: "Jean Dupont",
		Due: time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC), AfterRun: true}
	if fs[1] != want || fs[0].AfterRun {
		t.Errorf("findings = %+v, want [during, %+v]", fs, want)
	}
	if !r.Verify.OK {
		t.Errorf("the run with a finding does not verify: %+v", r.Verify)
	}
	var show bytes.Buffer
	if err := WriteShow(&show, r, 100); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(show.String(), "F2") || !strings.Contains(show.String(), "after the run") || !strings.Contains(show.String(), "(owner Jean Dupont) due 2027-01-15") {
		t.Errorf("show has no finding after the run:\n%s", show.String())
	}
	var md bytes.Buffer
	if err := report.Render(&md, r.Doc, "md", "en"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "DNS TTL of 1 day delays the switch") || !strings.Contains(md.String(), "Jean Dupont") {
		t.Errorf("the Markdown report has no finding after the run:\n%s", md.String())
	}
}
