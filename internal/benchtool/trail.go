package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

func mkdir(dir string) error { return os.MkdirAll(dir, 0o700) }

// genTrail writes runs finished runs of perRun events each through the
// store (AppendBatch, one commit per run), so that the chain, the runs
// table and the seals are what repli itself writes.
func genTrail(path string, runs, perRun int) error {
	ctx := context.Background()
	s, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for r := range runs {
		id, err := s.CreateRun(ctx, store.RunInfo{Runbook: "bench", Mode: "test", Operator: "bench"})
		if err != nil {
			return err
		}
		evs := []engine.Event{startEvent(id, at)}
		for seq := int64(2); seq < int64(perRun); seq++ {
			dom := fmt.Sprintf("vm-%03d", seq/2)
			var ev engine.Event
			switch seq % 4 {
			case 0:
				ev = &engine.ActionIntent{Action: seq, Step: "stop", Site: "primary", URI: "qemu+ssh://kvm-a/system", Domain: dom, Verb: "shutdown"}
			case 1:
				ev = &engine.ActionOutcome{Action: seq - 1, Step: "stop", Site: "primary", Domain: dom, Verb: "shutdown", OK: true, Duration: 3 * time.Second}
			case 2:
				ev = &engine.Logged{Step: "stop", Level: "info", Message: dom + " is shut off"}
			default:
				ev = &engine.StepChanged{Step: "stop", State: engine.StepRunning}
			}
			m := ev.EventMeta()
			m.RunID, m.Seq, m.At = id, seq, at.Add(time.Duration(seq)*time.Millisecond)
			evs = append(evs, ev)
		}
		end := &engine.RunEnded{Outcome: engine.OutcomeSucceeded, Duration: time.Minute}
		end.RunID, end.Seq, end.At = id, int64(perRun), at.Add(time.Minute)
		evs = append(evs, end)
		if err := s.AppendBatch(ctx, evs); err != nil {
			return fmt.Errorf("generate run %d: %w", r+1, err)
		}
		at = at.Add(time.Hour)
	}
	return nil
}

// timeCmd runs a command n times and returns the median wall time.
func timeCmd(n int, name string, args ...string) (time.Duration, error) {
	var ds []time.Duration
	for range n {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "NO_COLOR=1", "REPLI_DB=", "REPLI_CONFIG=/dev/null")
		cmd.Stdout = nil // /dev/null: what is measured is the work, not a terminal
		var errb strings.Builder
		cmd.Stderr = &errb
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, tail(errb.String()))
		}
		ds = append(ds, time.Since(t0))
	}
	return median(ds), nil
}

// trail is figure 3: history, show, report and verify on a generated trail
// of 100,000 events (1,000,000 with BENCH_BIG=1), against the same commands
// on a trail of 20 runs and against sqlite3 reading every event.
func (b *bench) trail() error {
	if p := os.Getenv("BENCH_KEEP_TRAIL"); p != "" {
		defer copyFile(filepath.Join(b.dir, "big.db"), p)
	}
	events := 100_000
	if os.Getenv("BENCH_BIG") == "1" {
		events = 1_000_000
	}
	const perRun = 100
	big, small := filepath.Join(b.dir, "big.db"), filepath.Join(b.dir, "small.db")
	t0 := time.Now()
	if err := genTrail(big, events/perRun, perRun); err != nil {
		return err
	}
	gen := time.Since(t0)
	if err := genTrail(small, 20, perRun); err != nil {
		return err
	}
	b.note("trail: %s events in %s runs generated through the store (AppendBatch, one commit per run) in %s (%s)",
		thousands(int64(events)), thousands(int64(events/perRun)), dur(gen), rate(float64(events)/gen.Seconds()))
	mid := strconv.Itoa(events / perRun / 2)
	label := fmt.Sprintf("%s-event trail", thousands(int64(events)))
	for _, c := range []struct {
		figure string
		args   []string
		goal   string
	}{
		{"`history`", []string{"history"}, "first screen ≤ 300 ms"},
		{"`show` of one run", []string{"show", mid}, "≤ 100 ms"},
		{"`report` of one run", []string{"report", mid}, "≤ 100 ms"},
	} {
		smallArgs := append(append([]string{}, c.args...), "--db", small)
		if c.args[0] != "history" {
			smallArgs[1] = "10"
		}
		tb, err := timeCmd(b.n, b.repli, append(append([]string{}, c.args...), "--db", big)...)
		if err != nil {
			return err
		}
		ts, err := timeCmd(b.n, b.repli, smallArgs...)
		if err != nil {
			return err
		}
		b.add(row{c.figure + ", " + label, dur(tb), "the same on a 20-run trail: " + dur(ts), times(float64(tb) / float64(ts)), c.goal})
	}
	tv, err := timeCmd(b.n, b.repli, "verify", "--db", big)
	if err != nil {
		return err
	}
	anchor, ratio := "sqlite3 not installed", ""
	if sq, err := exec.LookPath("sqlite3"); err == nil {
		ts, err := timeCmd(b.n, sq, "-readonly", big, "SELECT id, run_id, seq, at, kind, step, body, prev_hash, hash FROM events")
		if err != nil {
			return err
		}
		anchor, ratio = "sqlite3 CLI reading every event: "+dur(ts), times(float64(tv)/float64(ts))
	}
	b.add(row{"`verify`, " + label, dur(tv) + " (" + rate(float64(events)/tv.Seconds()) + ")", anchor, ratio, "≥ 500,000 events/s"})
	return nil
}

// copyFile keeps a copy of the generated trail (BENCH_KEEP_TRAIL=PATH),
// to profile or to time other commands on.
func copyFile(from, to string) {
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool: keep the trail:", err)
	}
}
