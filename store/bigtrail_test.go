package store

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"testing"
	"time"
)

var (
	bigTrailOut  = flag.String("bigtrail.out", "", "write a large audit trail to this file (TestGenerateBigTrail)")
	bigTrailFrom = flag.String("bigtrail.from", "", "audit trail whose run 1 is copied into the large trail")
	bigTrailRuns = flag.Int("bigtrail.runs", 10000, "how many runs the large trail holds")
)

// TestGenerateBigTrail writes a trail of many runs for measuring show,
// report and history at scale, and is skipped unless -bigtrail.out is
// given (never in make test):
//
//	go test ./store -run TestGenerateBigTrail -bigtrail.from=one-run.db -bigtrail.out=big.db -bigtrail.runs=10000
//
// Every run is a copy of run 1 of -bigtrail.from (a real run: its runbook
// parses, its events replay), each a day later than the one before, with
// its events chained with the store's own hash (the chain is real: repli
// verify passes on it), in one transaction.
func TestGenerateBigTrail(t *testing.T) {
	if *bigTrailOut == "" || *bigTrailFrom == "" {
		t.Skip("give -bigtrail.from and -bigtrail.out to generate a large trail")
	}
	ctx := context.Background()
	src, err := OpenReadOnly(ctx, *bigTrailFrom)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var row struct {
		runbook, title, file, sha, mode, operator, host, outcome, reason string
		auto                                                             bool
		target                                                           int64
		achieved                                                         sql.NullInt64
	}
	if err := src.db.QueryRowContext(ctx, `SELECT runbook, title, file, sha256, mode, operator, host, outcome, reason, auto_approve, rto_target_ns, rto_achieved_ns FROM runs WHERE id = 1`).
		Scan(&row.runbook, &row.title, &row.file, &row.sha, &row.mode, &row.operator, &row.host, &row.outcome, &row.reason, &row.auto, &row.target, &row.achieved); err != nil {
		t.Fatal(err)
	}
	rows, err := src.db.QueryContext(ctx, `SELECT seq, at, kind, step, body FROM events WHERE run_id = 1 ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		seq              int64
		at               time.Time
		kind, step, body string
	}
	var evs []ev
	for rows.Next() {
		var e ev
		var at string
		if err := rows.Scan(&e.seq, &at, &e.kind, &e.step, &e.body); err != nil {
			t.Fatal(err)
		}
		e.at, _ = time.Parse(timeFormat, at)
		evs = append(evs, e)
	}
	rows.Close()
	if len(evs) == 0 || evs[len(evs)-1].kind != "run.ended" {
		t.Fatalf("run 1 of %s is not a finished run", *bigTrailFrom)
	}

	s, err := Open(ctx, *bigTrailOut)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO events (id, run_id, seq, at, kind, step, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	var id int64
	prev := GenesisHash
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0), coalesce((SELECT hash FROM events ORDER BY id DESC LIMIT 1), ?) FROM events`, GenesisHash).Scan(&id, &prev); err != nil {
		t.Fatal(err)
	}
	first := evs[0].at
	for r := range *bigTrailRuns {
		shift := time.Duration(r+1-*bigTrailRuns) * 24 * time.Hour // the last copy is the original's day
		startID, endID := id+1, id+int64(len(evs))
		// The end hash is known once the events are written: the row is
		// inserted open, and sealed after.
		res, err := tx.ExecContext(ctx, `INSERT INTO runs (runbook, title, file, sha256, mode, operator, host, auto_approve, started_at, rto_target_ns, start_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			row.runbook, row.title, row.file, row.sha, row.mode, row.operator, row.host, row.auto, first.Add(shift).Format(timeFormat), row.target, startID)
		if err != nil {
			t.Fatal(err)
		}
		runID, _ := res.LastInsertId()
		var endAt string
		for _, e := range evs {
			id++
			at := e.at.Add(shift).Format(timeFormat)
			h := eventHash(prev, id, runID, e.seq, at, e.kind, e.step, e.body)
			if _, err := ins.ExecContext(ctx, id, runID, e.seq, at, e.kind, e.step, e.body, prev, h); err != nil {
				t.Fatal(err)
			}
			prev, endAt = h, at
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET ended_at = ?, outcome = ?, reason = ?, rto_achieved_ns = ?, end_event_id = ?, end_hash = ? WHERE id = ?`,
			endAt, row.outcome, row.reason, row.achieved, endID, prev, runID); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("wrote %d runs, %d events, to %s\n", *bigTrailRuns, id, *bigTrailOut)
}
