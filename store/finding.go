package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/repli-dr/repli/engine"
)

// KindFinding is the kind of the one event an ended run still takes: a
// finding (an observation with its corrective action) recorded after the
// run, when the review finds what the drill revealed. An ended run is
// otherwise sealed. A finding is chained like every event, numbered next in
// its run's sequence, after its run.ended, and signed (a signature event
// right after it) by a console that signs; verify checks it like any other
// event, and refuses any other kind after the end.
const KindFinding = "finding"

// Finding is the event of kind KindFinding.
type Finding struct {
	engine.Meta
	// Operator is who recorded the finding.
	Operator string `json:"operator"`
	Text     string `json:"text"`
	Owner    string `json:"owner,omitempty"`
	// Due is the corrective action's due date, YYYY-MM-DD.
	Due  string `json:"due,omitempty"`
	Step string `json:"step,omitempty"`
}

// Kind is KindFinding.
func (*Finding) Kind() string { return KindFinding }

// ErrRunNotEnded is returned for a finding added to a run that has not
// ended: its console owns its sequence, and takes notes itself.
var ErrRunNotEnded = errors.New("the run has not ended")

// AddFinding records a finding on a run that has ended, at the run's next
// sequence number and the chain's head, signed when this console signs
// (SetSigner), in one write transaction. It returns the event as written.
// f's Meta is set here: the run, the sequence, and the time (f.At, or now).
func (s *Store) AddFinding(ctx context.Context, runID int64, f Finding) (*Finding, error) {
	if s.readOnly {
		return nil, fmt.Errorf("record finding: %w: %s was opened for review only", ErrReadOnly, s.path)
	}
	if strings.TrimSpace(f.Text) == "" {
		return nil, errors.New("record finding: the finding has no text")
	}
	if f.Due != "" {
		if _, err := time.Parse("2006-01-02", f.Due); err != nil {
			return nil, fmt.Errorf("record finding: due date %q is not YYYY-MM-DD", f.Due)
		}
	}
	if f.At.IsZero() {
		f.At = time.Now()
	}
	f.RunID = runID
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record finding: %w", s.explain(err))
	}
	defer tx.Rollback()
	var ended sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT ended_at FROM runs WHERE id = ? AND start_event_id IS NOT NULL`, runID).Scan(&ended)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("record finding: run %d: %w in %s", runID, ErrNoRun, s.path)
	case err != nil:
		return nil, fmt.Errorf("record finding: %w", s.explain(err))
	case !ended.Valid:
		return nil, fmt.Errorf("record finding on run %d: %w: write it as a note in its console (n), or add it once the run has ended", runID, ErrRunNotEnded)
	}
	if endedAt, err := time.Parse(timeFormat, ended.String); err == nil && !f.At.After(endedAt) {
		f.At = endedAt.Add(time.Nanosecond) // a finding comes after the end, also on a clock behind
	}
	last, err := lastSeq(ctx, tx, runID)
	if err != nil {
		return nil, err
	}
	f.Seq = last + 1
	body, err := json.Marshal(&f)
	if err != nil {
		return nil, fmt.Errorf("encode finding: %w", err)
	}
	at := f.At.UTC().Format(timeFormat)
	id, hash, err := appendTx(ctx, tx, runID, f.Seq, at, KindFinding, f.Step, string(body))
	if err != nil {
		return nil, fmt.Errorf("record finding: %w", s.explain(err))
	}
	if err := s.appendSignature(ctx, tx, &f, &f.Meta, at, id, hash); err != nil {
		return nil, fmt.Errorf("record finding: %w", s.explain(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record finding: commit: %w", s.explain(err))
	}
	f.At, _ = time.Parse(timeFormat, at)
	return &f, nil
}
