package store

import (
	"context"
	"fmt"
)

// Verification is the result of recomputing the hash chain.
type Verification struct {
	Events   int64  `json:"events"`
	Head     string `json:"head_hash"`
	OK       bool   `json:"ok"`
	BadID    int64  `json:"bad_event_id,omitempty"`
	BadRun   int64  `json:"bad_run_id,omitempty"`
	BadSeq   int64  `json:"bad_seq,omitempty"`
	Problem  string `json:"problem,omitempty"`
	RunID    int64  `json:"run_id,omitempty"`
	RunCount int64  `json:"run_events,omitempty"`
}

// Verify recomputes the whole chain, in id order. The first event that does
// not match is named, with what is wrong with it. When runID is not zero,
// the count of that run's events is reported too; the chain is always
// checked whole, because one run's events are linked to every other's.
func (s *Store) Verify(ctx context.Context, runID int64) (Verification, error) {
	v := Verification{RunID: runID, Head: GenesisHash}
	rows, err := s.db.QueryContext(ctx, `SELECT id, run_id, seq, at, kind, step, body, prev_hash, hash FROM events ORDER BY id`)
	if err != nil {
		return v, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	prev := GenesisHash
	var prevID int64
	lastSeq := map[int64]int64{}
	for rows.Next() {
		var id, run, seq int64
		var at, kind, step, body, prevHash, hash string
		if err := rows.Scan(&id, &run, &seq, &at, &kind, &step, &body, &prevHash, &hash); err != nil {
			return v, fmt.Errorf("read event: %w", err)
		}
		fail := func(format string, a ...any) (Verification, error) {
			v.BadID, v.BadRun, v.BadSeq = id, run, seq
			v.Problem = fmt.Sprintf(format, a...)
			return v, nil
		}
		switch {
		case id != prevID+1:
			return fail("event(s) missing before event %d (previous id %d)", id, prevID)
		case prevHash != prev:
			return fail("event %d does not follow the one before it: an event was removed, inserted or reordered", id)
		case seq != lastSeq[run]+1:
			return fail("run %d event %d comes after event %d of that run: events were removed or reordered", run, seq, lastSeq[run])
		case eventHash(prevHash, id, run, seq, at, kind, step, body) != hash:
			return fail("event %d (run %d, #%d, %s) was changed after it was written", id, run, seq, kind)
		}
		prev, prevID, lastSeq[run] = hash, id, seq
		v.Events++
		if run == runID {
			v.RunCount++
		}
	}
	if err := rows.Err(); err != nil {
		return v, err
	}
	v.Head, v.OK = prev, true
	return v, nil
}
