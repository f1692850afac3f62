package engine

import (
	"testing"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

// TestWithRPO: the run's end carries the RPO measured from the oldest
// recovery point to the RTO clock's start, and the runbook's target; a run
// that recorded no recovery point says nothing was measured.
func TestWithRPO(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	e := &Engine{rb: &runbooks.Runbook{RPO: 15 * time.Minute}, prog: NewProgress()}
	e.prog.Apply(&RunStarted{Meta: Meta{Seq: 1, At: t0}})
	if end := e.withRPO(&RunEnded{}); end.RPOAchieved != nil || end.RPOTarget != 15*time.Minute {
		t.Fatalf("no recovery point: %+v", end)
	}
	e.prog.Apply(&RecoveryPoint{Meta: Meta{Seq: 2, At: t0.Add(time.Minute)}, Step: "b", At: t0.Add(-20 * time.Minute), Source: "backup"})
	e.prog.Apply(&RecoveryPoint{Meta: Meta{Seq: 3, At: t0.Add(2 * time.Minute)}, Step: "c", At: t0.Add(-5 * time.Minute), Source: "copy"})
	e.prog.Apply(&RTOStarted{Meta: Meta{Seq: 4, At: t0.Add(10 * time.Minute)}, Step: "stop"})
	end := e.withRPO(&RunEnded{})
	if end.RPOAchieved == nil || *end.RPOAchieved != 30*time.Minute {
		t.Fatalf("RPO achieved %v, want 30m (RTO start 12:10 − oldest point 11:40)", end.RPOAchieved)
	}
	if s := e.prog.RPO(e.rb); s.Met || s.AchievedS != 1800 || s.Source != "backup" {
		t.Errorf("standing %+v", s)
	}
	// Round trip through the journal's encoding.
	b, err := EncodeEvent(end)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeEvent("run.ended", b, Meta{})
	if err != nil || *back.(*RunEnded).RPOAchieved != 30*time.Minute {
		t.Fatalf("decoded %+v, %v", back, err)
	}
	rb, err := DecodeEvent("rpo.point", []byte(`{"step":"b","at":"2026-11-30T11:40:00Z","source":"backup"}`), Meta{})
	if err != nil || !rb.(*RecoveryPoint).At.Equal(t0.Add(-20*time.Minute)) {
		t.Fatalf("rpo.point decoded %+v, %v", rb, err)
	}
}
