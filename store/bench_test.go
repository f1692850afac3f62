package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

// BenchmarkAppend measures durable appends as the engine makes them: one
// event per transaction, fsynced (WAL, synchronous=FULL) before Append
// returns. The trail starts with 0 or 100,000 events.
func BenchmarkAppend(b *testing.B) {
	for _, bb := range []struct {
		name  string
		trail int
		lease bool
	}{
		{"empty", 0, false},
		{"empty+lease", 0, true},
		{"100k", 100_000, false},
	} {
		b.Run(bb.name, func(b *testing.B) {
			ctx := context.Background()
			s, _ := openTemp(b)
			if bb.trail > 0 {
				genTrail(b, s, bb.trail/1000, 1000)
			}
			id := createRun(b, s, "erp")
			if bb.lease {
				if _, err := s.AcquireLease(ctx, id, Holder{Operator: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			appendAll(b, s, id, 0, failoverEvents("")[:1])
			seq := int64(1)
			for b.Loop() {
				seq++
				ev := &engine.Logged{Step: "stop-primary", Level: "info", Message: "vm-db is shut off"}
				ev.RunID, ev.Seq, ev.At = id, seq, base.Add(time.Duration(seq)*time.Millisecond)
				if err := s.Append(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkVerify measures Verify over a trail of 100,000 events (100 runs
// of 1,000).
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	s, _ := openTemp(b)
	const runs, perRun = 100, 1000
	genTrail(b, s, runs, perRun)
	for b.Loop() {
		v, err := s.Verify(ctx, 0)
		if err != nil || !v.OK || v.Events != runs*perRun {
			b.Fatalf("Verify = %+v, %v", v, err)
		}
	}
	b.ReportMetric(float64(runs*perRun)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkOpen measures Open of a trail of 100,000 events: it runs
// PRAGMA quick_check, one read of the whole file.
func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	s, path := openTemp(b)
	genTrail(b, s, 100, 1000)
	s.Close()
	for b.Loop() {
		s, err := Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// genTrail writes runs finished runs of perRun events each, chained with
// eventHash, in one transaction: a large trail in seconds rather than the
// minutes one fsync per event would take.
func genTrail(tb testing.TB, s *Store, runs, perRun int) {
	tb.Helper()
	genTrailWith(tb, s, runs, perRun, eventHash)
}

// genTrailWith is genTrail with the given hash function.
func genTrailWith(tb testing.TB, s *Store, runs, perRun int, eventHash func(prev string, id, runID, seq int64, at, kind, step, body string) string) {
	tb.Helper()
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO events (id, run_id, seq, at, kind, step, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		tb.Fatal(err)
	}
	defer ins.Close()
	var id int64
	prev := GenesisHash
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0), coalesce((SELECT hash FROM events ORDER BY id DESC LIMIT 1), ?) FROM events`, GenesisHash).Scan(&id, &prev); err != nil {
		tb.Fatal(err)
	}
	for r := range runs {
		res, err := tx.ExecContext(ctx, `INSERT INTO runs (runbook, mode, operator, started_at) VALUES (?, 'test', 'bench', ?)`,
			fmt.Sprintf("rb-%d", r), base.Format(timeFormat))
		if err != nil {
			tb.Fatal(err)
		}
		runID, _ := res.LastInsertId()
		for seq := int64(1); seq <= int64(perRun); seq++ {
			var ev engine.Event = &engine.Logged{Step: "stop-primary", Level: "info", Message: fmt.Sprintf("vm-db state checked (%d)", seq)}
			if seq == 1 {
				ev = &engine.RunStarted{Runbook: fmt.Sprintf("rb-%d", r), Mode: "test", Operator: "bench"}
			}
			if seq == int64(perRun) {
				ev = &engine.RunEnded{Outcome: engine.OutcomeSucceeded, Duration: time.Minute}
			}
			body, _ := engine.EncodeEvent(ev)
			at := base.Add(time.Duration(id) * time.Millisecond).Format(timeFormat)
			id++
			step := stepOfBody(body)
			h := eventHash(prev, id, runID, seq, at, ev.Kind(), step, string(body))
			if _, err := ins.ExecContext(ctx, id, runID, seq, at, ev.Kind(), step, string(body), prev, h); err != nil {
				tb.Fatal(err)
			}
			prev = h
			if seq == 1 {
				if _, err := tx.ExecContext(ctx, `UPDATE runs SET started_at = ?, start_event_id = ? WHERE id = ?`, at, id, runID); err != nil {
					tb.Fatal(err)
				}
			}
			if seq == int64(perRun) {
				if _, err := tx.ExecContext(ctx, `UPDATE runs SET ended_at = ?, outcome = 'succeeded', end_event_id = ?, end_hash = ? WHERE id = ?`, at, id, h, runID); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// TestGenTrail keeps the benchmarks' generator honest: what it writes is a
// trail that verifies, and that the store appends to.
func TestGenTrail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTemp(t)
	genTrail(t, s, 3, 10)
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents(engine.OutcomeSucceeded))
	v, err := s.Verify(ctx, 0)
	if err != nil || !v.OK || v.Events != 30+14 {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
}

// BenchmarkAppendSigned measures a gate decision written by a signing
// console: the event, and its signature (one ssh-keygen -Y sign with a key
// file) in the same transaction.
func BenchmarkAppendSigned(b *testing.B) {
	ctx := context.Background()
	o := newOperators(b)
	s, _ := openTemp(b)
	s.SetSigner("alice", o.signer(b, "alice"), nil)
	id := createRun(b, s, "erp")
	appendAll(b, s, id, 0, failoverEvents("")[:1])
	seq := int64(1)
	for b.Loop() {
		seq++
		ev := &engine.GateDecided{Step: "stop-primary", Approved: true, Operator: "alice"}
		ev.RunID, ev.Seq, ev.At = id, seq, base.Add(time.Duration(seq)*time.Millisecond)
		if err := s.Append(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
