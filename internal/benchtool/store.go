package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

// durableEvents is how many events each durable-append measurement writes.
const durableEvents = 2000

// groupSize is the batch of the grouped figures: the intents (or the
// outcomes) of 16 actions launched together.
const groupSize = 16

// logEvent is a typical event: a log line of a step.
func logEvent(runID, seq int64, at time.Time) engine.Event {
	ev := &engine.Logged{Step: "stop", Level: "info", Message: fmt.Sprintf("vm-%03d is shut off", seq%1000)}
	ev.RunID, ev.Seq, ev.At = runID, seq, at
	return ev
}

func startEvent(runID int64, at time.Time) engine.Event {
	ev := &engine.RunStarted{Runbook: "bench", Title: "bench", Mode: "test", Operator: "bench", Host: "bench"}
	ev.RunID, ev.Seq, ev.At = runID, 1, at
	return ev
}

// storeAppend writes durableEvents events through the store, one Append
// each or in batches of group, and returns the rate.
func storeAppend(dir string, group int) (float64, error) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(dir, fmt.Sprintf("store-%d-%d.db", group, time.Now().UnixNano())))
	if err != nil {
		return 0, err
	}
	defer s.Close()
	id, err := s.CreateRun(ctx, store.RunInfo{Runbook: "bench", Mode: "test", Operator: "bench"})
	if err != nil {
		return 0, err
	}
	at := time.Now()
	if err := s.Append(ctx, startEvent(id, at)); err != nil {
		return 0, err
	}
	seq := int64(1)
	t0 := time.Now()
	for seq < durableEvents {
		var evs []engine.Event
		for range group {
			seq++
			evs = append(evs, logEvent(id, seq, at))
		}
		if group == 1 {
			err = s.Append(ctx, evs[0])
		} else {
			err = s.AppendBatch(ctx, evs)
		}
		if err != nil {
			return 0, err
		}
	}
	return float64(seq-1) / time.Since(t0).Seconds(), nil
}

// committerAppend writes durableEvents events from 16 goroutines through
// engine.Committer on the store, as the engine's parallel actions would:
// each goroutine waits for its event to be durable before the next.
func committerAppend(dir string, workers int) (float64, error) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(dir, fmt.Sprintf("committer-%d.db", time.Now().UnixNano())))
	if err != nil {
		return 0, err
	}
	defer s.Close()
	id, err := s.CreateRun(ctx, store.RunInfo{Runbook: "bench", Mode: "test", Operator: "bench"})
	if err != nil {
		return 0, err
	}
	at := time.Now()
	if err := s.Append(ctx, startEvent(id, at)); err != nil {
		return 0, err
	}
	c := engine.NewCommitter(ctx, s, nil)
	defer c.Close()
	var mu sync.Mutex
	seq := int64(1)
	errs := make(chan error, workers)
	t0 := time.Now()
	for range workers {
		go func() {
			for {
				mu.Lock()
				if seq >= durableEvents {
					mu.Unlock()
					errs <- nil
					return
				}
				seq++
				p := c.Enqueue(logEvent(id, seq, at))
				mu.Unlock()
				if err := p.Wait(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	return float64(durableEvents-1) / time.Since(t0).Seconds(), nil
}

// rawAppend is the anchor: the same rows into a table of the same shape
// with mattn/go-sqlite3 and the store's pragmas (WAL, synchronous=FULL,
// BEGIN IMMEDIATE), a prepared INSERT, no checks, no chain.
func rawAppend(dir string, group int) (float64, error) {
	q := url.Values{}
	q.Set("_busy_timeout", "5000")
	q.Set("_foreign_keys", "on")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, fmt.Sprintf("raw-%d-%d.db", group, time.Now().UnixNano()))+"?"+q.Encode())
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
		kind TEXT NOT NULL, step TEXT NOT NULL DEFAULT '', body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (run_id, seq))`); err != nil {
		return 0, err
	}
	ins, err := db.Prepare(`INSERT INTO events (id, run_id, seq, at, kind, step, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	body := `{"step":"stop","level":"info","message":"vm-001 is shut off"}`
	hash := strings.Repeat("ab", 32)
	at := time.Now().UTC().Format(time.RFC3339Nano)
	seq := int64(0)
	t0 := time.Now()
	for seq < durableEvents-1 {
		tx, err := db.Begin()
		if err != nil {
			return 0, err
		}
		st := tx.Stmt(ins)
		for range group {
			seq++
			if _, err := st.Exec(seq, 1, seq, at, "log", "stop", body, hash, hash); err != nil {
				tx.Rollback()
				return 0, err
			}
		}
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return float64(seq) / time.Since(t0).Seconds(), nil
}

// durable is figure 2: durable events per second through the store and
// through raw go-sqlite3, one event per commit and 16 per commit.
func (b *bench) durable() error {
	dir := filepath.Join(b.dir, "durable")
	if err := mkdir(dir); err != nil {
		return err
	}
	var st1, raw1, stG, rawG, com []float64
	for range b.n {
		for _, m := range []struct {
			out *[]float64
			fn  func(string, int) (float64, error)
			g   int
		}{{&st1, storeAppend, 1}, {&raw1, rawAppend, 1}, {&stG, storeAppend, groupSize}, {&rawG, rawAppend, groupSize}, {&com, committerAppend, groupSize}} {
			r, err := m.fn(dir, m.g)
			if err != nil {
				return err
			}
			*m.out = append(*m.out, r)
		}
	}
	s1, r1, sg, rg := medianF(st1), medianF(raw1), medianF(stG), medianF(rawG)
	b.add(row{"durable audit append, one event per commit", rate(s1), "raw go-sqlite3, same pragmas, one row per commit: " + rate(r1),
		fmt.Sprintf("%.0f %%", 100*s1/r1), "≥ 70 %"})
	b.add(row{fmt.Sprintf("durable audit append, %d events per commit (AppendBatch)", groupSize), rate(sg),
		fmt.Sprintf("raw go-sqlite3, %d rows per commit: %s", groupSize, rate(rg)),
		fmt.Sprintf("%.0f %% of raw; %s single", 100*sg/rg, times(sg/s1)), "≥ 5× single"})
	c := medianF(com)
	b.add(row{fmt.Sprintf("durable audit append, %d concurrent emitters through engine.Committer (group commit)", groupSize), rate(c),
		"the store, one event per commit: " + rate(s1), times(c / s1), "≥ 5× single"})
	return nil
}

func medianF(xs []float64) float64 {
	ds := make([]time.Duration, len(xs))
	for i, x := range xs {
		ds[i] = time.Duration(x * 1000)
	}
	return float64(median(ds)) / 1000
}
