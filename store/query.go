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

// ErrNoRun is returned for a run id the database does not hold.
var ErrNoRun = errors.New("no such run")

// Run is a run's summary, as history shows it.
type Run struct {
	ID          int64          `json:"id"`
	Runbook     string         `json:"runbook"`
	Title       string         `json:"title"`
	File        string         `json:"file"`
	SHA256      string         `json:"sha256"`
	Mode        string         `json:"mode"`
	Operator    string         `json:"operator"`
	Host        string         `json:"host"`
	AutoApprove bool           `json:"auto_approve"`
	Outcome     engine.Outcome `json:"outcome"`
	Reason      string         `json:"reason,omitempty"`
	StartedAt   time.Time      `json:"started_at"`
	EndedAt     *time.Time     `json:"ended_at"`
	RTOTarget   time.Duration  `json:"-"`
	RTOAchieved *time.Duration `json:"-"`
	// EndEventID and EndHash locate the run's run.ended event in the chain:
	// the head of the trail when the run ended. EndHash is what an operator
	// writes into the ticket; CheckAnchor checks a trail against it later.
	EndEventID int64  `json:"end_event_id,omitempty"`
	EndHash    string `json:"end_hash,omitempty"`
}

// Duration is how long the run took, or has taken so far.
func (r Run) Duration(now time.Time) time.Duration {
	if r.EndedAt != nil {
		return r.EndedAt.Sub(r.StartedAt)
	}
	return now.Sub(r.StartedAt)
}

const runColumns = `id, runbook, title, file, sha256, mode, operator, host, auto_approve, outcome, reason, started_at, ended_at, rto_target_ns, rto_achieved_ns, end_event_id, end_hash`

func scanRun(sc interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var started string
	var ended sql.NullString
	var target int64
	var achieved sql.NullInt64
	var outcome string
	var endID sql.NullInt64
	var endHash sql.NullString
	if err := sc.Scan(&r.ID, &r.Runbook, &r.Title, &r.File, &r.SHA256, &r.Mode, &r.Operator, &r.Host, &r.AutoApprove, &outcome, &r.Reason, &started, &ended, &target, &achieved, &endID, &endHash); err != nil {
		return r, err
	}
	r.EndEventID, r.EndHash = endID.Int64, endHash.String
	r.Outcome = engine.Outcome(outcome)
	r.StartedAt, _ = time.Parse(timeFormat, started)
	if ended.Valid {
		t, _ := time.Parse(timeFormat, ended.String)
		r.EndedAt = &t
	}
	r.RTOTarget = time.Duration(target)
	if achieved.Valid {
		d := time.Duration(achieved.Int64)
		r.RTOAchieved = &d
	}
	return r, nil
}

// started selects the runs that exist: those with their run.started event.
// A reservation whose console stopped before that is not a run. Files older
// than schema 4 (a copy reviewed read-only) have no reservations.
func (s *Store) started() string {
	if s.version < schemaStartEvent {
		return "1"
	}
	return "start_event_id IS NOT NULL"
}

// Runs lists every run, newest first.
func (s *Store) Runs(ctx context.Context) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs WHERE `+s.started()+` ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", s.explain(err))
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("read run: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Run returns one run.
func (s *Store) Run(ctx context.Context, id int64) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("run %d: %w in %s", id, ErrNoRun, s.path)
	}
	if err == nil && s.version >= schemaStartEvent {
		var started bool
		if err := s.db.QueryRowContext(ctx, `SELECT start_event_id IS NOT NULL FROM runs WHERE id = ?`, id).Scan(&started); err != nil {
			return r, fmt.Errorf("read run %d: %w", id, s.explain(err))
		}
		if !started {
			return Run{}, neverStarted(id)
		}
	}
	if err != nil {
		return r, fmt.Errorf("read run %d: %w", id, s.explain(err))
	}
	return r, nil
}

// Events returns a run's events in order, decoded: the engine's own, and the
// store's (a *LeaseTakenOver for each takeover, a *Finding for each finding
// recorded after the end), so that the sequence has no
// gaps and a resumed run continues after the last one. Signature events,
// which take no place in the sequence, are read with Signatures. A kind neither knows
// (written by a newer repli) is an error.
func (s *Store) Events(ctx context.Context, runID int64) ([]engine.Event, error) {
	return s.EventsAfter(ctx, runID, 0)
}

// EventsAfter returns a run's events after seq, as Events does: what a
// console following the run has not read yet (reading the whole run again
// on every poll grows with the run).
func (s *Store) EventsAfter(ctx context.Context, runID, seq int64) ([]engine.Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at, kind, body FROM events WHERE run_id = ? AND seq > ? ORDER BY seq`, runID, max(seq, 0))
	if err != nil {
		return nil, fmt.Errorf("read events of run %d: %w", runID, s.explain(err))
	}
	defer rows.Close()
	var out []engine.Event
	for rows.Next() {
		var seq int64
		var at, kind, body string
		if err := rows.Scan(&seq, &at, &kind, &body); err != nil {
			return nil, err
		}
		t, _ := time.Parse(timeFormat, at)
		ev, err := decodeEvent(kind, []byte(body), engine.Meta{RunID: runID, Seq: seq, At: t})
		if err != nil {
			return nil, fmt.Errorf("run %d event %d: %w", runID, seq, err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// decodeEvent decodes the store's own kinds, and hands the rest to the
// engine.
func decodeEvent(kind string, body []byte, m engine.Meta) (engine.Event, error) {
	var ev engine.Event
	switch kind {
	case KindLeaseTakeover:
		ev = &LeaseTakenOver{}
	case KindFinding:
		ev = &Finding{}
	default:
		return engine.DecodeEvent(kind, body, m)
	}
	if err := json.Unmarshal(body, ev); err != nil {
		return nil, fmt.Errorf("decode %s event: %w", kind, err)
	}
	*ev.EventMeta() = m
	return ev, nil
}

// Standing is whether a run that has not ended still has a console driving
// it. A run whose console is gone (its lease stale, or released without the
// run ending) is interrupted: it waits for repli resume, and history must
// not show it running, its duration growing.
type Standing struct {
	Interrupted bool   `json:"interrupted"`
	Why         string `json:"why,omitempty"`
}

// Standings judges every run that has not ended, by its lease, as resume
// would: the holder's process on this host, else the heartbeat's age.
func (s *Store) Standings(ctx context.Context) (map[int64]Standing, error) {
	out := map[int64]Standing{}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM runs WHERE ended_at IS NULL AND `+s.started())
	if err != nil {
		return nil, fmt.Errorf("list unfinished runs: %w", s.explain(err))
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list unfinished runs: %w", s.explain(err))
	}
	if len(ids) == 0 {
		return out, nil
	}
	var leases bool
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'leases'`).Scan(&leases); err != nil {
		return nil, fmt.Errorf("read the schema: %w", s.explain(err))
	}
	now := s.now()
	for _, id := range ids {
		if !leases {
			out[id] = Standing{Interrupted: true, Why: "this trail predates leases: no console is known to drive the run"}
			continue
		}
		l, held, err := readLease(ctx, s.db, id)
		switch {
		case err != nil:
			return nil, fmt.Errorf("run %d: %w", id, s.explain(err))
		case !held:
			out[id] = Standing{Interrupted: true, Why: "no console holds the run: it was left to be resumed"}
		default:
			if stale, why := s.judge(l, now); stale {
				out[id] = Standing{Interrupted: true, Why: fmt.Sprintf("its console (%s) is gone: %s", l.Holder, why)}
			} else {
				out[id] = Standing{}
			}
		}
	}
	return out, nil
}

// StartFacts is what history needs from a run's run.started event beyond
// the runs table: the sites' URIs (sim:// for a simulated lab) and, for the
// way back of a runbook written by repli reverse, the forward runbook.
type StartFacts struct {
	Sites           map[string]string
	ReverseOf       string
	ReverseOfSHA256 string
}

// Simulated reports whether every site of the run was simulated.
func (f StartFacts) Simulated() bool {
	if len(f.Sites) == 0 {
		return false
	}
	for _, u := range f.Sites {
		if !strings.HasPrefix(u, "sim://") {
			return false
		}
	}
	return true
}

// StartFacts reads every run's start facts in one query, without decoding
// the runbook text each run.started carries.
func (s *Store) StartFacts(ctx context.Context) (map[int64]StartFacts, error) {
	join := `e.run_id = r.id AND e.seq = 1`
	if s.version >= schemaStartEvent {
		join = `e.id = r.start_event_id`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT r.id, coalesce(json_extract(e.body, '$.sites'), '{}'), coalesce(json_extract(e.body, '$.reverse_of'), ''),
		coalesce(json_extract(e.body, '$.reverse_of_sha256'), '') FROM runs r JOIN events e ON `+join+` WHERE e.kind = 'run.started'`)
	if err != nil {
		return nil, fmt.Errorf("read the runs' start: %w", s.explain(err))
	}
	defer rows.Close()
	out := map[int64]StartFacts{}
	for rows.Next() {
		var id int64
		var sites string
		var f StartFacts
		if err := rows.Scan(&id, &sites, &f.ReverseOf, &f.ReverseOfSHA256); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(sites), &f.Sites); err != nil {
			return nil, fmt.Errorf("run %d: read its sites: %w", id, err)
		}
		out[id] = f
	}
	return out, rows.Err()
}

// Started returns a run's run.started event (the first), decoded: with the
// runbook text recorded with the run.
func (s *Store) Started(ctx context.Context, runID int64) (*engine.RunStarted, error) {
	var at, kind, body string
	err := s.db.QueryRowContext(ctx, `SELECT at, kind, body FROM events WHERE run_id = ? AND seq = 1`, runID).Scan(&at, &kind, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d: %w in %s", runID, ErrNoRun, s.path)
	}
	if err != nil {
		return nil, fmt.Errorf("read run %d: %w", runID, s.explain(err))
	}
	t, _ := time.Parse(timeFormat, at)
	ev, err := decodeEvent(kind, []byte(body), engine.Meta{RunID: runID, Seq: 1, At: t})
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", runID, err)
	}
	st, ok := ev.(*engine.RunStarted)
	if !ok {
		return nil, fmt.Errorf("run %d's first event is %s, not run.started", runID, kind)
	}
	return st, nil
}
