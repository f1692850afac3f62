package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
)

const copyHead = `version: 1
name: copy
rpo: 1h
sites:
  primary: {uri: sim://primary}
  secondary: {uri: sim://secondary}
steps:
`

func copyRunbookHarness(t *testing.T, steps string) *harness {
	t.Helper()
	return newHarness(t, mustParse(t, "copy.yaml", copyHead+steps), true)
}

func logsOf(h *harness, step, contains string) []string {
	var out []string
	for _, ev := range h.journal.find("log") {
		l := ev.(*engine.Logged)
		if l.Step == step && strings.Contains(l.Message, contains) {
			out = append(out, l.Message)
		}
	}
	return out
}

func TestCopyStepCopiesAndVerifies(t *testing.T) {
	t.Parallel()
	h := copyRunbookHarness(t, `  - id: sync
    copy: {from: primary, to: secondary, volumes: [{domain: db-01}]}
`)
	src, ok := h.lab.VolumeData("primary", "default", "db-01.img")
	if !ok || len(src) != 1<<20 {
		t.Fatalf("the lab has no source volume (%v, %d bytes)", ok, len(src))
	}
	if _, there := h.lab.VolumeData("secondary", "default", "db-01.img"); there {
		t.Fatal("the target exists before the copy")
	}
	outcome, err := h.run(nil)
	if err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s err %v", outcome, err)
	}
	dst, ok := h.lab.VolumeData("secondary", "default", "db-01.img")
	if !ok || !bytes.Equal(src, dst) {
		t.Fatalf("the target volume (%v, %d bytes) differs from the source", ok, len(dst))
	}
	sum := sha256.Sum256(src)
	copied := h.journal.find("volume.copied")
	if len(copied) != 1 {
		t.Fatalf("%d volume.copied events", len(copied))
	}
	vc := copied[0].(*engine.VolumeCopied)
	if vc.Bytes != 1<<20 || vc.SourceSHA256 != hex.EncodeToString(sum[:]) || vc.TargetSHA256 != vc.SourceSHA256 || vc.Volume != "default/db-01.img" || vc.Replaced {
		t.Errorf("volume.copied %+v", vc)
	}
	// Intent before, with what is expected; outcome ok after the checksum.
	var intent *engine.ActionIntent
	for _, ev := range h.journal.events {
		switch e := ev.(type) {
		case *engine.ActionIntent:
			intent = e
		case *engine.VolumeCopied:
			if intent == nil {
				t.Fatal("volume.copied before any intent")
			}
		}
	}
	if intent == nil || intent.Verb != engine.VerbCopyVolume || intent.Site != "secondary" || intent.Volume != "default/db-01.img" || intent.Bytes != 1<<20 ||
		!strings.Contains(intent.Detail, "copy primary:default/db-01.img to secondary (1.0 MiB)") {
		t.Errorf("intent %+v", intent)
	}
	// Progress every tenth, not per 64 KiB chunk (16 of them).
	if n := len(logsOf(h, "sync", "copied (")); n < 9 || n > 11 {
		t.Errorf("%d progress lines: %v", n, logsOf(h, "sync", "copied ("))
	}
	// The copy's start is the recovery point; it began after the run, so
	// nothing was lost.
	p, err := engine.ProgressOf(h.journal.events)
	if err != nil {
		t.Fatal(err)
	}
	rp, ok := p.RecoveryPointOf()
	if !ok || !strings.Contains(rp.Source, "copy of default/db-01.img") || rp.At.Before(p.Started.At) {
		t.Fatalf("recovery point %+v", rp)
	}
	if got, ok := p.RPOAchieved(); !ok || got != 0 {
		t.Errorf("RPO achieved %s %v", got, ok)
	}
	if s := p.RPO(h.rb); !s.Measured || !s.Met || s.TargetS != 3600 {
		t.Errorf("RPO standing %+v", s)
	}
}

func TestCopyDetectsAChecksumMismatch(t *testing.T) {
	t.Parallel()
	h := copyRunbookHarness(t, `  - id: sync
    on_failure: abort
    copy: {from: primary, to: secondary, volumes: [{pool: default, name: data.img}]}
`)
	h.lab.CorruptWrites("secondary", true)
	outcome, _ := h.run(nil)
	if outcome == engine.OutcomeSucceeded {
		t.Fatal("a corrupted copy succeeded")
	}
	var out *engine.ActionOutcome
	for _, ev := range h.journal.find("action.outcome") {
		out = ev.(*engine.ActionOutcome)
	}
	if out == nil || out.OK || !strings.Contains(out.Error, "checksum mismatch") || !strings.Contains(out.Error, "run the step again") {
		t.Fatalf("outcome %+v", out)
	}
	if n := len(h.journal.find("volume.copied")) + len(h.journal.find("rpo.point")); n != 0 {
		t.Errorf("a failed copy recorded %d volume.copied or rpo.point events", n)
	}
}

func TestCopyWithoutVerifyTrustsTheStream(t *testing.T) {
	t.Parallel()
	// verify: none is the runbook's choice: the same fault goes unseen,
	// which is what the SHA-256 read-back is for.
	h := copyRunbookHarness(t, `  - id: sync
    copy: {from: primary, to: secondary, volumes: [{pool: default, name: data.img}], verify: none}
`)
	h.lab.CorruptWrites("secondary", true)
	if outcome, err := h.run(nil); outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s err %v", outcome, err)
	}
	vc := h.journal.find("volume.copied")[0].(*engine.VolumeCopied)
	if vc.TargetSHA256 != "" || vc.Verify != "none" {
		t.Errorf("volume.copied %+v", vc)
	}
}

func TestCopyCreateRefusesAnExistingTargetOverwriteReplacesIt(t *testing.T) {
	t.Parallel()
	steps := `  - id: sync
    on_failure: abort
    copy: {from: primary, to: secondary, volumes: [{pool: default, name: data.img}]%s}
`
	h := copyRunbookHarness(t, strings.Replace(steps, "%s", "", 1))
	h.lab.AddVolume("secondary", "default", "data.img", []byte("old data"), "")
	if outcome, _ := h.run(nil); outcome == engine.OutcomeSucceeded {
		t.Fatal("target: create wrote over an existing volume")
	}
	if got, _ := h.lab.VolumeData("secondary", "default", "data.img"); string(got) != "old data" {
		t.Errorf("the existing volume was touched: %d bytes", len(got))
	}
	if len(h.journal.find("action.intent")) != 0 {
		t.Error("a refused copy wrote an intent")
	}
	if l := h.journal.find("step.changed"); !strings.Contains(l[len(l)-1].(*engine.StepChanged).Reason, "target: overwrite") {
		t.Errorf("reason %q", l[len(l)-1].(*engine.StepChanged).Reason)
	}

	h = copyRunbookHarness(t, strings.Replace(steps, "%s", ", target: overwrite", 1))
	h.lab.AddVolume("secondary", "default", "data.img", []byte("old data"), "")
	if outcome, err := h.run(nil); outcome != engine.OutcomeSucceeded {
		t.Fatalf("overwrite: outcome %s err %v", outcome, err)
	}
	src, _ := h.lab.VolumeData("primary", "default", "data.img")
	if got, _ := h.lab.VolumeData("secondary", "default", "data.img"); !bytes.Equal(got, src) {
		t.Error("overwrite left the target different from the source")
	}
	if vc := h.journal.find("volume.copied")[0].(*engine.VolumeCopied); !vc.Replaced {
		t.Error("volume.copied does not say the target was replaced")
	}
}

// TestCopyInterruptedIsCopiedAgainOnResume: the console dies mid-stream;
// the half-written target is never reported done, and the resumed run
// copies it again from the start (target: create, yet the run replaces the
// volume it half-wrote itself).
func TestCopyInterruptedIsCopiedAgainOnResume(t *testing.T) {
	t.Parallel()
	h := copyRunbookHarness(t, `  - id: sync
    copy: {from: primary, to: secondary, volumes: [{domain: db-01}, {pool: default, name: data.img}]}
`)
	// The first volume copies; the second stalls half-way, and the
	// console dies there.
	stalled := h.lab.StallRead("primary", "default", "data.img", 512<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { <-stalled; cancel() }()
	go func() { h.eng.Run(ctx) }()
	for range h.eng.Events() {
	}
	select {
	case <-stalled:
	default:
		t.Fatal("the copy never stalled")
	}
	half, ok := h.lab.VolumeData("secondary", "default", "data.img")
	src, _ := h.lab.VolumeData("primary", "default", "data.img")
	if !ok || bytes.Equal(half, src) {
		t.Fatalf("the interrupted target is whole (%v): the test interrupted nothing", ok)
	}
	p, err := engine.ProgressOf(h.journal.events)
	if err != nil {
		t.Fatal(err)
	}
	if p.Ended != nil || p.State("sync") == engine.StepSucceeded {
		t.Fatal("the interrupted run ended or its step succeeded")
	}
	// Interrupted, the copy has no ok outcome: in doubt (a console killed
	// outright) or failed (one that could still write why it stopped).
	var last *engine.ActionProgress
	for _, a := range p.Actions {
		last = a
	}
	if last == nil || last.Intent.Volume != "default/data.img" || last.Result == engine.ActionOK {
		t.Fatalf("the interrupted copy's action: %+v", last)
	}

	r := h.resumed(t, true)
	if outcome, err := r.run(nil); err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("resumed: outcome %s err %v", outcome, err)
	}
	if got, _ := h.lab.VolumeData("secondary", "default", "data.img"); !bytes.Equal(got, src) {
		t.Error("after resume the target still differs from the source")
	}
	copied := map[string]int{}
	for _, ev := range h.journal.find("volume.copied") {
		copied[ev.(*engine.VolumeCopied).Volume]++
	}
	if copied["default/db-01.img"] != 1 || copied["default/data.img"] != 1 {
		t.Errorf("copies recorded: %v (db-01's disk must not be copied again)", copied)
	}
	if len(logsOf(h, "sync", "already copied")) != 1 {
		t.Errorf("no 'already copied' line for db-01's disk")
	}
}

func TestCopyNeedsVolumeStreams(t *testing.T) {
	t.Parallel()
	rb := mustParse(t, "copy.yaml", copyHead+"  - id: sync\n    on_failure: abort\n    copy: {from: primary, to: secondary, volumes: [{pool: p, name: n}]}\n")
	lab := sim.NewLab(1, speed)
	sites := map[string]engine.Hypervisor{"primary": noVolumes{lab.Site("primary")}, "secondary": lab.Site("secondary")}
	j := &memJournal{}
	eng, err := engine.New(rb, sites, j, engine.Options{RunID: 1, Operator: "a", AutoApprove: true, TimeScale: speed})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range eng.Events() {
		}
	}()
	if outcome, _ := eng.Run(context.Background()); outcome == engine.OutcomeSucceeded {
		t.Fatal("copied without volume streams")
	}
	var reason string
	for _, ev := range j.events {
		if sc, ok := ev.(*engine.StepChanged); ok && sc.State == engine.StepFailed {
			reason = sc.Reason
		}
	}
	if !strings.Contains(reason, "cannot copy storage volumes") {
		t.Errorf("reason %q", reason)
	}
}

// noVolumes hides a hypervisor's volume streams.
type noVolumes struct{ engine.Hypervisor }

// TestRPOFromAFileModificationTime: a backup checked with recovery_point:
// true is the recovery point; the RPO achieved is measured from it to the
// start of the RTO clock.
func TestRPOFromAFileModificationTime(t *testing.T) {
	t.Parallel()
	backup := filepath.Join(t.TempDir(), "db.dump")
	if err := os.WriteFile(backup, []byte("dump"), 0o600); err != nil {
		t.Fatal(err)
	}
	mtime := time.Now().Add(-90 * time.Minute).Truncate(time.Second)
	if err := os.Chtimes(backup, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	h := copyRunbookHarness(t, `  - id: backup
    check: {file: `+backup+`, max_age: 26h, recovery_point: true}
  - id: outage
    rto: start
    manual: Production is down.
  - id: back
    rto: stop
    manual: Service is back.
`)
	if outcome, err := h.run(nil); err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s err %v", outcome, err)
	}
	p, err := engine.ProgressOf(h.journal.events)
	if err != nil {
		t.Fatal(err)
	}
	rp, ok := p.RecoveryPointOf()
	if !ok || !rp.At.Equal(mtime) || rp.Step != "backup" || !strings.Contains(rp.Source, "db.dump") {
		t.Fatalf("recovery point %+v, want %s", rp, mtime)
	}
	got, ok := p.RPOAchieved()
	if !ok || got != p.RTOStart.Sub(mtime) || got < 90*time.Minute {
		t.Errorf("RPO achieved %s, want RTO start − mtime = %s", got, p.RTOStart.Sub(mtime))
	}
	// 1h target, 90 min achieved: missed.
	if s := p.RPO(nil); !s.Measured || s.Met || s.TargetS != 3600 || s.AchievedS < 5400 {
		t.Errorf("RPO standing %+v", s)
	}
}

func TestRPOFromACommandsOutput(t *testing.T) {
	t.Parallel()
	h := copyRunbookHarness(t, `  - id: last-snapshot
    exec: {shell: true, command: "echo replicated; echo 2026-11-30T02:00:00Z", recovery_point: stdout}
`)
	if outcome, err := h.run(nil); err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s err %v", outcome, err)
	}
	rps := h.journal.find("rpo.point")
	if len(rps) != 1 || !rps[0].(*engine.RecoveryPoint).At.Equal(time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("recovery points %v", rps)
	}

	h = copyRunbookHarness(t, `  - id: last-snapshot
    on_failure: abort
    exec: {command: [echo, "no time here"], recovery_point: stdout}
`)
	if outcome, _ := h.run(nil); outcome == engine.OutcomeSucceeded {
		t.Fatal("a command that printed no time measured an RPO")
	}
	if len(h.journal.find("rpo.point")) != 0 {
		t.Error("recorded a recovery point from nothing")
	}
}

// A stream that ends without a byte and without an error is copied again
// (said in the trail); three such and the copy fails, never done short.
func TestCopyOfAnEmptyStreamIsTriedAgain(t *testing.T) {
	t.Parallel()
	const step = `  - id: sync
    on_failure: abort
    copy: {from: primary, to: secondary, volumes: [{domain: db-01}]}
`
	h := copyRunbookHarness(t, step)
	h.lab.EmptyReads("primary", 1)
	if o, err := h.run(nil); err != nil || o != engine.OutcomeSucceeded {
		t.Fatalf("one empty stream: outcome %s err %v", o, err)
	}
	src, _ := h.lab.VolumeData("primary", "default", "db-01.img")
	dst, ok := h.lab.VolumeData("secondary", "default", "db-01.img")
	if !ok || !bytes.Equal(src, dst) {
		t.Fatalf("the target (%v, %d bytes) differs from the source after the second try", ok, len(dst))
	}
	var said bool
	for _, ev := range h.journal.find("log") {
		said = said || strings.Contains(ev.(*engine.Logged).Message, "copying it again (attempt 2 of 3)")
	}
	if !said {
		t.Error("the second try is not in the trail")
	}

	h = copyRunbookHarness(t, step)
	h.lab.EmptyReads("primary", 3)
	if o, _ := h.run(nil); o == engine.OutcomeSucceeded {
		t.Fatal("a copy of three empty streams succeeded")
	}
	if r := h.ended().Reason; !strings.Contains(r, "0 bytes read from primary") {
		t.Errorf("reason %q", r)
	}
}
