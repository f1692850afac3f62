package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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

// eventHash is SHA-256 over the previous hash and a canonical JSON array of
// the event's stored columns. Any change to a column, to the order, or a
// missing event breaks the chain from that event on.
func eventHash(prev string, id, runID, seq int64, at, kind, step, body string) string {
	canon, _ := json.Marshal([]any{id, runID, seq, at, kind, step, body})
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))
}

// stepOf extracts the step id an event concerns, for indexing.
func stepOf(ev engine.Event) string {
	var probe struct {
		Step string `json:"step"`
	}
	b, _ := json.Marshal(ev)
	_ = json.Unmarshal(b, &probe)
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
	m := ev.EventMeta()
	if s.readOnly {
		return fmt.Errorf("write %s event: %w: %s was opened for review only", ev.Kind(), ErrReadOnly, s.path)
	}
	body, err := engine.EncodeEvent(ev)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", ev.Kind(), err)
	}
	if err := s.append(ctx, ev, m, string(body)); err != nil {
		return fmt.Errorf("write %s event (run %d, #%d): %w", ev.Kind(), m.RunID, m.Seq, s.explain(err))
	}
	return nil
}

// ErrNeverStarted is returned for a run whose id was reserved (CreateRun)
// by a console that stopped before the run's first event: nothing was done
// in it, and there is nothing to resume.
var ErrNeverStarted = errors.New("the run never started")

func (s *Store) append(ctx context.Context, ev engine.Event, m *engine.Meta, body string) error {
	at := m.At.UTC().Format(timeFormat)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := s.checkDriver(ctx, tx, m.RunID); err != nil {
		return err
	}
	last, err := lastSeq(ctx, tx, m.RunID)
	if err != nil {
		return err
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
	id, hash, err := appendTx(ctx, tx, m.RunID, m.Seq, at, ev.Kind(), stepOf(ev), body)
	if err != nil {
		return err
	}
	if isStart {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET runbook = ?, title = ?, file = ?, sha256 = ?, mode = ?, operator = ?, host = ?, auto_approve = ?, started_at = ?, rto_target_ns = ?, start_event_id = ?
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
		if err := s.appendSignature(ctx, tx, ev, m, at, id, hash); err != nil {
			return err
		}
	}
	if end, ok := ev.(*engine.RunEnded); ok {
		var achieved any
		if end.RTOAchieved > 0 {
			achieved = int64(end.RTOAchieved)
		}
		res, err := tx.ExecContext(ctx, `UPDATE runs SET ended_at = ?, outcome = ?, reason = ?, rto_achieved_ns = ?, end_event_id = ?, end_hash = ? WHERE id = ?`,
			at, string(end.Outcome), end.Reason, achieved, id, hash, m.RunID)
		if err != nil {
			return fmt.Errorf("close run: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("close run: %w", ErrNoRun)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func lastSeq(ctx context.Context, tx *sql.Tx, runID int64) (int64, error) {
	var last int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM events WHERE run_id = ?", runID).Scan(&last); err != nil {
		return 0, fmt.Errorf("read run %d's last event: %w", runID, err)
	}
	return last, nil
}

// appendTx links one event to the head of the chain, inside tx.
func appendTx(ctx context.Context, tx *sql.Tx, runID, seq int64, at, kind, step, body string) (id int64, hash string, err error) {
	var lastID int64
	prev := GenesisHash
	err = tx.QueryRowContext(ctx, "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").Scan(&lastID, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, "", fmt.Errorf("read chain head: %w", err)
	}
	id = lastID + 1
	hash = eventHash(prev, id, runID, seq, at, kind, step, body)
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, run_id, seq, at, kind, step, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, runID, seq, at, kind, step, body, prev, hash); err != nil {
		return 0, "", fmt.Errorf("insert: %w", err)
	}
	return id, hash, nil
}
