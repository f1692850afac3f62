package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/repli-dr/repli/engine"
)

// legacyStartSlack is how much earlier than its run.started event the
// started_at of a run written before schema 4 may be: it was the console's
// clock when the run's row was made, a moment before its first event.
// Migration 4 sets it from the event, so only a copy reviewed unmigrated
// needs the slack.
const legacyStartSlack = 10 * time.Minute

// checkRows holds every field of the runs table that history, show and the
// report display to the run's chained events: run.started for what the run
// was (runbook, title, file, digest, mode, operator, host, auto-approve, RTO
// target, start time), run.ended for how it ended (time, outcome, reason,
// RTO achieved). The runs table is an index for speed; editing it alone
// must not change what a reader is told.
func (ends runEnds) checkRows(f chainFacts, exactStart bool) *finding {
	for _, r := range ends.runs {
		first, has := f.first[r.run]
		switch {
		case r.reserved && has:
			return &finding{BreakIndex, first.id, r.run, 1, fmt.Sprintf(
				"run %d has events, but the runs table says it never started, which hides it from history: the runs table was edited", r.run)}
		case r.reserved:
			continue
		case !has:
			if r.ended {
				continue // reported by check
			}
			return &finding{BreakIndex, 0, r.run, 0, fmt.Sprintf("run %d is listed, but it has no events: the runs table was edited, or its events removed", r.run)}
		}
		if bad := r.checkStart(first, exactStart); bad != nil {
			return bad
		}
		if bad := r.checkEnd(f.ended[r.run]); bad != nil {
			return bad
		}
	}
	return nil
}

func edited(r runEnd, e storedEvent, field string, row, chained any) *finding {
	return &finding{BreakIndex, e.id, r.run, e.seq, fmt.Sprintf(
		"run %d's %s is %q in the runs table, but %q in its %s event (event %d): the runs table was edited",
		r.run, field, fmt.Sprint(row), fmt.Sprint(chained), e.kind, e.id)}
}

func (r runEnd) checkStart(e storedEvent, exactStart bool) *finding {
	if e.kind != "run.started" {
		return &finding{BreakIndex, e.id, r.run, 1, fmt.Sprintf("run %d's first event is %s, not run.started", r.run, e.kind)}
	}
	var st engine.RunStarted
	if err := json.Unmarshal([]byte(e.body), &st); err != nil {
		return &finding{BreakChanged, e.id, r.run, 1, fmt.Sprintf("run %d's run.started event (event %d) cannot be read: %v", r.run, e.id, err)}
	}
	row := r.row
	for _, c := range []struct {
		field        string
		row, chained any
	}{
		{"runbook", row.Runbook, st.Runbook},
		{"title", row.Title, st.Title},
		{"file", row.File, st.File},
		{"sha256", row.SHA256, st.SHA256},
		{"mode", row.Mode, st.Mode},
		{"operator", row.Operator, st.Operator},
		{"host", row.Host, st.Host},
		{"auto_approve", row.AutoApprove, st.AutoApprove},
		{"rto_target", row.RTOTarget, st.RTOTarget},
	} {
		if c.row != c.chained {
			return edited(r, e, c.field, c.row, c.chained)
		}
	}
	at, _ := time.Parse(timeFormat, e.at)
	switch {
	case exactStart && r.startID != e.id:
		return edited(r, e, "start_event_id", r.startID, e.id)
	case exactStart && !row.StartedAt.Equal(at),
		!exactStart && (row.StartedAt.After(at) || at.Sub(row.StartedAt) > legacyStartSlack):
		return edited(r, e, "started_at", row.StartedAt.UTC().Format(timeFormat), e.at)
	}
	return nil
}

func (r runEnd) checkEnd(e storedEvent) *finding {
	row := r.row
	if !r.ended {
		var achieved any
		if row.RTOAchieved != nil {
			achieved = *row.RTOAchieved
		}
		if row.Outcome != engine.OutcomeRunning || row.Reason != "" || achieved != nil {
			return &finding{BreakIndex, 0, r.run, 0, fmt.Sprintf(
				"run %d has not ended (no run.ended event), but the runs table says %q (reason %q, RTO achieved %v): the runs table was edited",
				r.run, row.Outcome, row.Reason, achieved)}
		}
		return nil
	}
	if e.id == 0 {
		return nil // no run.ended: reported by check
	}
	var end engine.RunEnded
	if err := json.Unmarshal([]byte(e.body), &end); err != nil {
		return &finding{BreakChanged, e.id, r.run, e.seq, fmt.Sprintf("run %d's run.ended event (event %d) cannot be read: %v", r.run, e.id, err)}
	}
	at, _ := time.Parse(timeFormat, e.at)
	var achieved time.Duration
	if row.RTOAchieved != nil {
		achieved = *row.RTOAchieved
		if achieved == 0 {
			return edited(r, e, "rto_achieved", "0s", "none")
		}
	}
	switch {
	case row.Outcome != end.Outcome:
		return edited(r, e, "outcome", row.Outcome, end.Outcome)
	case row.Reason != end.Reason:
		return edited(r, e, "reason", row.Reason, end.Reason)
	case achieved != end.RTOAchieved:
		return edited(r, e, "rto_achieved", achieved, end.RTOAchieved)
	case row.EndedAt == nil || !row.EndedAt.Equal(at):
		var ended any
		if row.EndedAt != nil {
			ended = row.EndedAt.UTC().Format(timeFormat)
		}
		return edited(r, e, "ended_at", ended, e.at)
	}
	return nil
}
