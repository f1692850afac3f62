package crashcampaign

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"

	_ "github.com/mattn/go-sqlite3" // the audit trail's own driver
)

// trail reads an audit database while repli writes it: a plain connection
// in WAL mode reads without blocking the writer. It never writes.
type trail struct{ db *sql.DB }

func openTrail(path string) (*trail, error) {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	db, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open the audit trail %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return &trail{db: db}, nil
}

func (t *trail) Close() error { return t.db.Close() }

// count is the number of events in the trail (0 before the schema exists).
func (t *trail) count(ctx context.Context) int {
	var n int
	if err := t.db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		return 0
	}
	return n
}

// countKind is the number of events of one kind in a run.
func (t *trail) countKind(ctx context.Context, run int64, kind string) int {
	var n int
	if err := t.db.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE run_id = ? AND kind = ?`, run, kind).Scan(&n); err != nil {
		return 0
	}
	return n
}

// startedRun is the newest run with a run.started event, or 0: a console
// killed before that event left only a reservation, which is no run.
func (t *trail) startedRun(ctx context.Context) int64 {
	var id int64
	if err := t.db.QueryRowContext(ctx, `SELECT coalesce(max(run_id), 0) FROM events WHERE kind = 'run.started'`).Scan(&id); err != nil {
		return 0
	}
	return id
}

// ended is the run's recorded outcome, or "" while it has no run.ended.
func (t *trail) ended(ctx context.Context, run int64) (outcome, reason string) {
	var body string
	err := t.db.QueryRowContext(ctx, `SELECT body FROM events WHERE run_id = ? AND kind = 'run.ended' ORDER BY id DESC LIMIT 1`, run).Scan(&body)
	if err != nil {
		return "", ""
	}
	var b struct {
		Outcome string `json:"outcome"`
		Reason  string `json:"reason"`
	}
	if json.Unmarshal([]byte(body), &b) != nil {
		return "?", "run.ended body does not decode"
	}
	return b.Outcome, b.Reason
}

// event is one row of the trail, with the fields of its body the checks use.
type event struct {
	ID     int64
	Seq    int64
	Kind   string
	Step   string
	Action int64  `json:"action"`
	Verb   string `json:"verb"`
	Choice string `json:"choice"`
}

func (t *trail) events(ctx context.Context, run int64) ([]event, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT id, seq, kind, step, body FROM events WHERE run_id = ? ORDER BY id`, run)
	if err != nil {
		return nil, fmt.Errorf("read the events of run %d: %w", run, err)
	}
	defer rows.Close()
	var out []event
	for rows.Next() {
		var ev event
		var body string
		if err := rows.Scan(&ev.ID, &ev.Seq, &ev.Kind, &ev.Step, &body); err != nil {
			return nil, fmt.Errorf("read an event of run %d: %w", run, err)
		}
		id, seq, kind, step := ev.ID, ev.Seq, ev.Kind, ev.Step
		_ = json.Unmarshal([]byte(body), &ev)
		ev.ID, ev.Seq, ev.Kind = id, seq, kind
		if ev.Step == "" {
			ev.Step = step
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// pendingDoubt is the step of an exec whose intent has neither an outcome
// nor a later decision by the operator: a resume will ask about it.
func pendingDoubt(evs []event) string {
	open := map[int64]event{}
	for _, ev := range evs {
		switch ev.Kind {
		case "action.intent":
			if ev.Verb == "exec" {
				open[ev.Action] = ev
			}
		case "action.outcome", "action.reconciled":
			delete(open, ev.Action)
		case "failure.decided":
			for id, in := range open {
				if in.Step == ev.Step {
					delete(open, id)
				}
			}
		}
	}
	for _, in := range open {
		return in.Step
	}
	return ""
}

// Findings of one run's trail.
type trailFindings struct {
	// Gaps counts missing sequence numbers: events lost.
	Gaps int
	// Unclosed lists the intents with neither an outcome nor a
	// reconciliation, nor (an exec in doubt) the operator's decision.
	Unclosed []string
	// Twice lists the exec intents that repeat one of the same step without
	// a retry chosen between them.
	Twice []string
	// Intents counts the exec intents per step.
	Intents map[string]int
	// DoubtsDecided counts the in-doubt commands the operator decided on.
	DoubtsDecided int
}

func checkEvents(evs []event) trailFindings {
	f := trailFindings{Intents: map[string]int{}}
	var want int64 = 1
	for _, ev := range evs {
		if ev.Seq <= 0 {
			continue // a signature event carries minus the seq of what it signs
		}
		switch {
		case ev.Seq > want:
			f.Gaps += int(ev.Seq - want)
		case ev.Seq < want:
			f.Gaps++ // a repeated seq is as wrong as a missing one
		}
		want = ev.Seq + 1
	}
	closed := map[int64]bool{}
	decidedAfter := map[int64]bool{} // exec intent → a failure decision on its step followed
	retryAfter := map[string]bool{}  // step → retry chosen since its last exec intent
	lastExec := map[string]int64{}
	for _, ev := range evs {
		switch ev.Kind {
		case "action.outcome", "action.reconciled":
			closed[ev.Action] = true
		case "failure.decided":
			if id, ok := lastExec[ev.Step]; ok && !closed[id] {
				decidedAfter[id] = true
			}
			if ev.Choice == "retry" {
				retryAfter[ev.Step] = true
			}
		case "action.intent":
			if ev.Verb != "exec" {
				continue
			}
			f.Intents[ev.Step]++
			if _, seen := lastExec[ev.Step]; seen && !retryAfter[ev.Step] {
				f.Twice = append(f.Twice, fmt.Sprintf("step %s: action %d repeats the command with no retry chosen", ev.Step, ev.Action))
			}
			lastExec[ev.Step] = ev.Action
			retryAfter[ev.Step] = false
		}
	}
	for _, ev := range evs {
		if ev.Kind != "action.intent" || closed[ev.Action] {
			continue
		}
		if ev.Verb == "exec" && decidedAfter[ev.Action] {
			f.DoubtsDecided++
			continue
		}
		f.Unclosed = append(f.Unclosed, fmt.Sprintf("step %s: %s action %d (event %d) has no outcome", ev.Step, ev.Verb, ev.Action, ev.ID))
	}
	return f
}
