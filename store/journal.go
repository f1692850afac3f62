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

// CreateRun records a new run and returns its id.
func (s *Store) CreateRun(ctx context.Context, ri RunInfo) (int64, error) {
	if ri.StartedAt.IsZero() {
		ri.StartedAt = time.Now()
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs (runbook, title, file, sha256, mode, operator, host, auto_approve, started_at, rto_target_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ri.Runbook, ri.Title, ri.File, ri.SHA256, ri.Mode, ri.Operator, ri.Host, ri.AutoApprove, ri.StartedAt.UTC().Format(timeFormat), int64(ri.RTOTarget))
	if err != nil {
		return 0, fmt.Errorf("record run: %w", explain(err))
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
// synchronous=FULL) before Append returns.
func (s *Store) Append(ctx context.Context, ev engine.Event) error {
	if s.readOnly {
		return errors.New("the audit database was opened read-only")
	}
	m := ev.EventMeta()
	body, err := engine.EncodeEvent(ev)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", ev.Kind(), err)
	}
	at := m.At.UTC().Format(timeFormat)
	step := stepOf(ev)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin audit write: %w", explain(err))
	}
	defer tx.Rollback()
	var lastID int64
	prev := GenesisHash
	err = tx.QueryRowContext(ctx, "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").Scan(&lastID, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read chain head: %w", explain(err))
	}
	id := lastID + 1
	hash := eventHash(prev, id, m.RunID, m.Seq, at, ev.Kind(), step, string(body))
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, run_id, seq, at, kind, step, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, m.RunID, m.Seq, at, ev.Kind(), step, string(body), prev, hash); err != nil {
		return fmt.Errorf("write %s event: %w", ev.Kind(), explain(err))
	}
	if end, ok := ev.(*engine.RunEnded); ok {
		var achieved any
		if end.RTOAchieved > 0 {
			achieved = int64(end.RTOAchieved)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET ended_at = ?, outcome = ?, reason = ?, rto_achieved_ns = ? WHERE id = ?`,
			at, string(end.Outcome), end.Reason, achieved, m.RunID); err != nil {
			return fmt.Errorf("close run: %w", explain(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit %s event: %w", ev.Kind(), explain(err))
	}
	return nil
}
