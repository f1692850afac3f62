package store

import (
	"context"
	"fmt"
	"time"
)

// Approval is an operator's approval of a gate, sent from another console.
type Approval struct {
	ID        int64
	RunID     int64
	Step      string
	Operator  string
	Host      string
	SSHClient string
	Typed     string
	At        time.Time
	// Statement is what the approver's console signed (ApprovalText: the
	// gate answered); Signature its signature (with the gate's anchor and
	// the key), or Unsigned why there is none. Set by RequestApproval on a
	// console that signs (SetSigner).
	Statement string
	Signature string
	Unsigned  string
}

// RequestApproval records an approval for the driving console to pick up.
func (s *Store) RequestApproval(ctx context.Context, a Approval) (int64, error) {
	if s.readOnly {
		return 0, fmt.Errorf("record approval: %w: %s was opened for review only", ErrReadOnly, s.path)
	}
	if err := runOpen(ctx, s.db, a.RunID, false); err != nil {
		return 0, err
	}
	if a.At.IsZero() {
		a.At = time.Now()
	}
	if err := s.signApproval(ctx, &a); err != nil {
		return 0, fmt.Errorf("record approval: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO approvals (run_id, step, operator, host, ssh_client, typed, at, statement, signature, unsigned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.RunID, a.Step, a.Operator, a.Host, a.SSHClient, a.Typed, a.At.UTC().Format(timeFormat), a.Statement, a.Signature, a.Unsigned)
	if err != nil {
		return 0, fmt.Errorf("record approval: %w", s.explain(err))
	}
	return res.LastInsertId()
}

// Approvals returns a run's approvals with an id above after, in order.
func (s *Store) Approvals(ctx context.Context, runID, after int64) ([]Approval, error) {
	cols := `'', '', ''`
	if s.version >= schemaStartEvent {
		cols = `statement, signature, unsigned`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, step, operator, host, ssh_client, typed, at, `+cols+` FROM approvals WHERE run_id = ? AND id > ? ORDER BY id`, runID, after)
	if err != nil {
		return nil, fmt.Errorf("read approvals: %w", err)
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		a := Approval{RunID: runID}
		var at string
		if err := rows.Scan(&a.ID, &a.Step, &a.Operator, &a.Host, &a.SSHClient, &a.Typed, &at, &a.Statement, &a.Signature, &a.Unsigned); err != nil {
			return nil, err
		}
		a.At, _ = time.Parse(timeFormat, at)
		out = append(out, a)
	}
	return out, rows.Err()
}
