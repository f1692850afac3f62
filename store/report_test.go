package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/runbooks"
)

// runDrill runs the reference drill against a simulated lab into a real
// audit database, the way the console does.
func runDrill(t *testing.T, faults ...string) (*Store, int64) {
	t.Helper()
	ctx := context.Background()
	rb, diags, err := runbooks.Load("../testdata/runbooks/good/reference-drill.yaml")
	if err != nil || rb == nil {
		t.Fatal(err, diags)
	}
	s, err := Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	lab := sim.NewLab(1, 200)
	lab.Populate(rb, nil)
	for _, f := range faults {
		if err := lab.Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	sites := map[string]engine.Hypervisor{}
	for _, site := range rb.Sites {
		sites[site.Name], _ = lab.Hypervisor(site.URI)
	}
	id, err := s.CreateRun(ctx, RunInfo{Runbook: rb.Name, Mode: "test", Operator: "alice", RTOTarget: rb.RTO})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(rb, sites, s, engine.Options{RunID: id, Operator: "alice", AutoApprove: true, TimeScale: 200})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range eng.Events() {
		}
	}()
	if _, err := eng.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := eng.Note(ctx, "alice", "late note"); err == nil {
		t.Error("a note was accepted after the run ended")
	}
	return s, id
}

func TestReportOfARun(t *testing.T) {
	t.Parallel()
	s, id := runDrill(t, "ignore-shutdown=primary/app-02")
	r, err := s.Report(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Runbook != "reference-drill" || r.Run.Outcome != engine.OutcomeSucceeded || !r.AutoApprove {
		t.Errorf("header %s %s %v", r.Runbook, r.Run.Outcome, r.AutoApprove)
	}
	if len(r.Steps) != 6 {
		t.Fatalf("%d steps", len(r.Steps))
	}
	for _, st := range r.Steps {
		if st.State != engine.StepSucceeded || st.Ended.Before(st.Started) {
			t.Errorf("step %+v", st)
		}
	}
	// The ignored graceful shutdown shows as a failed action then a destroy.
	var app02 []string
	for _, a := range r.Actions {
		if a.Domain == "app-02" && a.Site == "primary" {
			app02 = append(app02, a.Verb+":"+a.Result)
		}
	}
	if len(app02) != 2 || app02[0] != "shutdown:failed" || app02[1] != "destroy:ok" {
		t.Errorf("app-02 actions %v", app02)
	}
	if len(r.Gates) != 4 || r.Gates[1].Typed != "primary" || r.Gates[1].Operator != engine.AutoOperator {
		t.Errorf("gates %+v", r.Gates)
	}
	if len(r.Gates[0].Ticked) != 2 {
		t.Errorf("checklist ticks %v", r.Gates[0].Ticked)
	}
	if r.RTOAchieved <= 0 || r.RTOStartStep != "stop-primary" || r.RTOStopStep != "verify-users" {
		t.Errorf("RTO %s from %s to %s", r.RTOAchieved, r.RTOStartStep, r.RTOStopStep)
	}
	if !r.Verification.OK || r.Anchor == "" || len(r.Sessions) != 1 {
		t.Errorf("verification %+v anchor %q sessions %v", r.Verification, r.Anchor, r.Sessions)
	}
}

func TestReportReadsACopyReadOnly(t *testing.T) {
	t.Parallel()
	s, id := runDrill(t)
	src := s.Path()
	s.Close()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, b, 0o400); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(context.Background(), cp)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	r, err := ro.Report(context.Background(), id)
	if err != nil || !r.Verification.OK || len(r.Actions) != 8 {
		t.Fatalf("report of a copy: %v %+v", err, r)
	}
}
