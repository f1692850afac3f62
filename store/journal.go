package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/repli-dr/repli/engine"
)

// GenesisHash is the previous hash of the first event in a database.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

const timeFormat = time.RFC3339Nano

// RunInfo is what is known of a run when it is created.
type RunInfo struct {
	Runbook     string
	Title       string
	File        string
	SHA256      string
	Mode        string
	Operator    string
	Host        string
	AutoApprove bool
	RTOTarget   time.Duration
	StartedAt   time.Time
}

// CreateRun reserves the id of a new run and returns it. The run itself
// exists from its first event on: the Append of its run.started fills the
// run's row from that event, in the same transaction, so that a console
// killed before that leaves no run that looks alive and cannot be resumed.
// Until then, the run is listed nowhere and Run says ErrNeverStarted; a lease
// may be acquired on it (the console that reserved it), not taken over. The
// fields of ri are provisional: the run.started event's are recorded.
func (s *Store) CreateRun(ctx context.Context, ri RunInfo) (int64, error) {
	if s.readOnly {
		return 0, fmt.Errorf("record run: %w: %s was opened for review only", ErrReadOnly, s.path)
	}
	if ri.StartedAt.IsZero() {
		ri.StartedAt = time.Now()
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs (runbook, title, file, sha256, mode, operator, host, auto_approve, started_at, rto_target_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ri.Runbook, ri.Title, ri.File, ri.SHA256, ri.Mode, ri.Operator, ri.Host, ri.AutoApprove, ri.StartedAt.UTC().Format(timeFormat), int64(ri.RTOTarget))
	if err != nil {
		return 0, fmt.Errorf("record run: %w", s.explain(err))
	}
	return res.LastInsertId()
}

// stepOf is the step id an event concerns, for indexing.
func stepOf(ev engine.Event) string {
	b, _ := engine.EncodeEvent(ev)
	return stepOfBody(b)
}

// stepOfBody is the step id an event concerns, from the event's encoded
// body: the append path encodes each event once.
func stepOfBody(body []byte) string {
	var probe struct {
		Step string `json:"step"`
	}
	_ = json.Unmarshal(body, &probe)
	return probe.Step
}

// Append implements engine.Journal: the event is committed durably (WAL,
// synchronous=FULL) before Append returns. An error means the event is not
// in the trail, and says why in words an operator can act on (see ErrLocked,
// ErrDiskFull, ErrReadOnly); the engine then performs nothing further.
//
// Append refuses an event of a run whose lease is held by another console
// (ErrLeaseLost), and an event whose sequence number does not follow the
// run's last one.
func (s *Store) Append(ctx context.Context, ev engine.Event) error {
	return s.AppendBatch(ctx, []engine.Event{ev})
}

// AppendBatch appends events in one transaction: all of them are durable
// when it returns (one commit, one fsync), or none is. It is group commit
// for the engine: the intents of the actions it is about to launch together
// are made durable at once, before any of them runs, and their outcomes the
// same way. Each event is checked as Append checks it, in order; the error
// names the first event refused. It implements engine.BatchJournal.
func (s *Store) AppendBatch(ctx context.Context, evs []engine.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if s.readOnly {
		return fmt.Errorf("write %s event: %w: %s was opened for review only", evs[0].Kind(), ErrReadOnly, s.path)
	}
	bodies := make([][]byte, len(evs))
	for i, ev := range evs {
		b, err := engine.EncodeEvent(ev)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", ev.Kind(), err)
		}
		bodies[i] = b
	}
	b := &batch{last: map[int64]int64{}}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.batchError(evs, 0, fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback()
	q := s.cached(tx)
	if err := readHead(ctx, q, &b.head); err != nil {
		return s.batchError(evs, 0, err)
	}
	start := b.head
	b.known = s.seqs.valid(start)
	for i, ev := range evs {
		if err := s.append(ctx, q, b, ev, ev.EventMeta(), bodies[i]); err != nil {
			return s.batchError(evs, i, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.batchError(evs, len(evs)-1, fmt.Errorf("commit: %w", err))
	}
	s.seqs.committed(start, b.head, b.last)
	return nil
}

// seqCache is each run's last sequence number as of a head of the chain,
// so that an append need not read it again: valid only while the head read
// at the start of a transaction (under the write lock) is that head. Any
// event written since, by this process or another, moves the head (ids
// only grow; events are never deleted), and the cache is then not used.
type seqCache struct {
	mu   sync.Mutex
	head chainHead
	last map[int64]int64
}

// valid returns the cached sequence numbers if they are those of head.
func (c *seqCache) valid(head chainHead) map[int64]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.head.known || c.head != head {
		return nil
	}
	return maps.Clone(c.last)
}

// committed records what a transaction that started at start and ended at
// end wrote: merged into the cache when the cache was of start, else in
// its place.
func (c *seqCache) committed(start, end chainHead, last map[int64]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !end.known {
		c.head, c.last = chainHead{}, nil
		return
	}
	if !c.head.known || c.head != start || c.last == nil {
		c.last = map[int64]int64{}
	}
	maps.Copy(c.last, last)
	c.head = end
}

// batchError says which event of a batch could not be written, and why.
func (s *Store) batchError(evs []engine.Event, i int, err error) error {
	ev := evs[i]
	m := ev.EventMeta()
	if len(evs) == 1 {
		return fmt.Errorf("write %s event (run %d, #%d): %w", ev.Kind(), m.RunID, m.Seq, s.explain(err))
	}
	return fmt.Errorf("write %d events (%s, run %d, #%d; none written): %w", len(evs), ev.Kind(), m.RunID, m.Seq, s.explain(err))
}

// batch is what one transaction of appends knows already: each run's last
// sequence number, whose lease it checked, and the head of the chain.
type batch struct {
	last    map[int64]int64 // run → last seq, once read or written here
	known   map[int64]int64 // run → last seq from the store's cache (seqCache)
	head    chainHead
	checked map[int64]bool // runs whose lease was checked in this transaction
}

// chainHead is the last event of the chain, as this transaction left it.
// It is read from the database once per transaction, under the write lock
// (BEGIN IMMEDIATE), so another process's appends are always seen.
type chainHead struct {
	known bool
	id    int64
	hash  string
}

// ErrNeverStarted is returned for a run whose id was reserved (CreateRun)
// by a console that stopped before the run's first event: nothing was done
// in it, and there is nothing to resume.
var ErrNeverStarted = errors.New("the run never started")

// append writes one event inside the batch's transaction.
func (s *Store) append(ctx context.Context, q *cachedTx, b *batch, ev engine.Event, m *engine.Meta, body []byte) error {
	at := m.At.UTC().Format(timeFormat)
	if !b.checked[m.RunID] {
		if err := s.checkDriver(ctx, q, m.RunID); err != nil {
			return err
		}
		if b.checked == nil {
			b.checked = map[int64]bool{}
		}
		b.checked[m.RunID] = true
	}
	last, ok := b.last[m.RunID]
	if !ok {
		last, ok = b.known[m.RunID]
	}
	if !ok {
		var err error
		if last, err = lastSeq(ctx, q, m.RunID); err != nil {
			return err
		}
	}
	if m.Seq != last+1 {
		if m.Seq <= last {
			return fmt.Errorf("run %d already has event #%d: another console is writing this run", m.RunID, m.Seq)
		}
		return fmt.Errorf("event #%d does not follow run %d's last event #%d", m.Seq, m.RunID, last)
	}
	start, isStart := ev.(*engine.RunStarted)
	switch {
	case m.Seq == 1 && !isStart:
		return fmt.Errorf("run %d must start with a run.started event, not %s", m.RunID, ev.Kind())
	case m.Seq != 1 && isStart:
		return fmt.Errorf("run %d has started already (run.started as event #%d)", m.RunID, m.Seq)
	}
	id, hash, err := appendChained(ctx, q, &b.head, m.RunID, m.Seq, at, ev.Kind(), stepOfBody(body), string(body))
	if err != nil {
		return err
	}
	b.last[m.RunID] = m.Seq
	if isStart {
		res, err := q.ExecContext(ctx, `UPDATE runs SET runbook = ?, title = ?, file = ?, sha256 = ?, mode = ?, operator = ?, host = ?, auto_approve = ?, started_at = ?, rto_target_ns = ?, start_event_id = ?
			WHERE id = ? AND start_event_id IS NULL AND ended_at IS NULL`,
			start.Runbook, start.Title, start.File, start.SHA256, start.Mode, start.Operator, start.Host, start.AutoApprove, at, int64(start.RTOTarget), id, m.RunID)
		if err != nil {
			return fmt.Errorf("open run: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("open run: %w (no reservation for run %d)", ErrNoRun, m.RunID)
		}
	}
	switch ev.(type) {
	case *engine.GateDecided, *engine.RunEnded:
		// Signed before the run is sealed, in the same transaction.
		if err := s.appendSignature(ctx, q.tx, ev, m, at, id, hash); err != nil {
			return err
		}
		b.head.known = false // the signature moved the head; read it again
	}
	if end, ok := ev.(*engine.RunEnded); ok {
		var achieved any
		if end.RTOAchieved > 0 {
			achieved = int64(end.RTOAchieved)
		}
		res, err := q.ExecContext(ctx, `UPDATE runs SET ended_at = ?, outcome = ?, reason = ?, rto_achieved_ns = ?, end_event_id = ?, end_hash = ? WHERE id = ?`,
			at, string(end.Outcome), end.Reason, achieved, id, hash, m.RunID)
		if err != nil {
			return fmt.Errorf("close run: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("close run: %w", ErrNoRun)
		}
	}
	return nil
}

func lastSeq(ctx context.Context, q querier, runID int64) (int64, error) {
	var last int64
	if err := q.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM events WHERE run_id = ?", runID).Scan(&last); err != nil {
		return 0, fmt.Errorf("read run %d's last event: %w", runID, err)
	}
	return last, nil
}

// appendTx links one event to the head of the chain, inside tx.
func appendTx(ctx context.Context, tx *sql.Tx, runID, seq int64, at, kind, step, body string) (id int64, hash string, err error) {
	return appendChained(ctx, tx, &chainHead{}, runID, seq, at, kind, step, body)
}

// readHead reads the head of the chain into head, unless known.
func readHead(ctx context.Context, q querier, head *chainHead) error {
	if head.known {
		return nil
	}
	head.id, head.hash = 0, GenesisHash
	err := q.QueryRowContext(ctx, "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").Scan(&head.id, &head.hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read chain head: %w", err)
	}
	head.known = true
	return nil
}

// appendChained links one event to head, reading the head from the
// database first when this transaction has not, and moves head to it.
func appendChained(ctx context.Context, q execQuerier, head *chainHead, runID, seq int64, at, kind, step, body string) (id int64, hash string, err error) {
	if err := readHead(ctx, q, head); err != nil {
		return 0, "", err
	}
	prev := head.hash
	id = head.id + 1
	hash = eventHash(prev, id, runID, seq, at, kind, step, body)
	if _, err := q.ExecContext(ctx, `INSERT INTO events (id, run_id, seq, at, kind, step, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, runID, seq, at, kind, step, body, prev, hash); err != nil {
		head.known = false
		return 0, "", fmt.Errorf("insert: %w", err)
	}
	head.id, head.hash = id, hash
	return id, hash, nil
}
