// Package history lists past runs from the audit trail as repli history
// shows them: one row per run with its standing (interrupted or running),
// start facts, objectives, and the filters that keep some of them.
package history

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/repli-dr/repli/internal/evidence"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/internal/textfmt"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
)

// Row is the JSON shape of one run in repli history --json. Its keys
// are a contract for scripts: add, never rename.
type Row struct {
	ID           int64    `json:"id"`
	Runbook      string   `json:"runbook"`
	Title        string   `json:"title"`
	Mode         string   `json:"mode"`
	Operator     string   `json:"operator"`
	Host         string   `json:"host"`
	AutoApprove  bool     `json:"auto_approve"`
	Simulated    bool     `json:"simulated"`
	Outcome      string   `json:"outcome"`
	Reason       string   `json:"reason,omitempty"`
	StartedAt    string   `json:"started_at"`
	EndedAt      *string  `json:"ended_at"`
	DurationS    float64  `json:"duration_s"`
	RTOTargetS   *float64 `json:"rto_target_s"`
	RTOAchievedS *float64 `json:"rto_achieved_s"`
	RTOMet       *bool    `json:"rto_met"`
	RPOTargetS   *float64 `json:"rpo_target_s"`
	RPOAchievedS *float64 `json:"rpo_achieved_s"`
	RPOMet       *bool    `json:"rpo_met"`
	// ReverseOf names the forward runbook of a run that is its way back.
	ReverseOf string `json:"reverse_of,omitempty"`
}

// Run is one run as history lists it.
type Run struct {
	store.Run
	Standing store.Standing
	Facts    store.StartFacts
	RPO      time.Duration
}

// Outcome is the run's outcome, interrupted for a run whose console is
// gone: never running with a duration that grows.
func (r Run) Outcome() string { return evidence.Outcome(r.Run, r.Standing) }

// duration is how long the run took; for an interrupted run, until its
// last event.
func (r Run) duration(now time.Time, last time.Time) time.Duration {
	if r.EndedAt == nil && r.Standing.Interrupted && !last.IsZero() {
		return last.Sub(r.StartedAt)
	}
	return r.Run.Duration(now)
}

// ToRow is r as history --json writes it; last is its last event, for a
// run whose console is gone.
func ToRow(r Run, now, last time.Time) Row {
	row := Row{
		ID: r.ID, Runbook: r.Runbook, Title: r.Title, Mode: r.Mode, Operator: r.Operator, Host: r.Host,
		AutoApprove: r.AutoApprove, Simulated: r.Facts.Simulated(), Outcome: r.Outcome(), Reason: r.Reason,
		StartedAt: r.StartedAt.UTC().Format(time.RFC3339), DurationS: r.duration(now, last).Seconds(),
		ReverseOf: r.Facts.ReverseOf,
	}
	if row.Outcome == "interrupted" && row.Reason == "" {
		row.Reason = r.Standing.Why
	}
	if r.EndedAt != nil {
		s := r.EndedAt.UTC().Format(time.RFC3339)
		row.EndedAt = &s
	}
	if r.RTOTarget > 0 {
		t := r.RTOTarget.Seconds()
		row.RTOTargetS = &t
	}
	if r.RTOAchieved != nil {
		a := r.RTOAchieved.Seconds()
		row.RTOAchievedS = &a
		if r.RTOTarget > 0 {
			met := *r.RTOAchieved <= r.RTOTarget
			row.RTOMet = &met
		}
	}
	if r.RPO > 0 {
		t := r.RPO.Seconds()
		row.RPOTargetS = &t
	}
	return row
}

// Filter is what --runbook, --mode, --outcome, --since and
// --simulated keep.
type Filter struct {
	Runbook, Mode, Outcome, Since string
	Simulated                     bool
	sinceT                        time.Time
}

// Parse reads Since against now.
func (f *Filter) Parse(now time.Time) error {
	if f.Since == "" {
		return nil
	}
	if t, err := time.ParseInLocation("2006-01-02", f.Since, time.Local); err == nil {
		f.sinceT = t
		return nil
	}
	if t, err := time.Parse(time.RFC3339, f.Since); err == nil {
		f.sinceT = t
		return nil
	}
	if n, ok := strings.CutSuffix(f.Since, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			f.sinceT = now.AddDate(0, 0, -d)
			return nil
		}
	}
	if d, err := time.ParseDuration(f.Since); err == nil && d >= 0 {
		f.sinceT = now.Add(-d)
		return nil
	}
	return fmt.Errorf("--since %q: give a date (2025-11-30), a time (RFC 3339), days (30d) or a duration (12h)", f.Since)
}

// Keep reports whether the filter keeps r.
func (f Filter) Keep(r Run) bool {
	switch {
	case f.Runbook != "" && r.Runbook != f.Runbook:
		return false
	case f.Mode != "" && r.Mode != f.Mode:
		return false
	case f.Outcome != "" && r.Outcome() != f.Outcome:
		return false
	case !f.sinceT.IsZero() && r.StartedAt.Before(f.sinceT):
		return false
	case f.Simulated && !r.Facts.Simulated():
		return false
	}
	return true
}

// Load lists the runs with what history shows of each: standing
// (interrupted or running), start facts, RPO target (from the runbook
// recorded with the run, parsed once per distinct runbook).
func Load(ctx context.Context, s *store.Store, f Filter) ([]Run, map[int64]time.Time, error) {
	runs, err := s.Runs(ctx)
	if err != nil {
		return nil, nil, err
	}
	stands, err := s.Standings(ctx)
	if err != nil {
		return nil, nil, err
	}
	facts, err := s.StartFacts(ctx)
	if err != nil {
		return nil, nil, err
	}
	type fromRunbook struct {
		rpo       time.Duration
		reverseOf string
	}
	byRunbook := map[string]fromRunbook{}
	last := map[int64]time.Time{}
	var out []Run
	for _, r := range runs {
		h := Run{Run: r, Standing: stands[r.ID], Facts: facts[r.ID]}
		if !f.Keep(h) {
			continue
		}
		fr, seen := byRunbook[r.SHA256]
		if !seen {
			if st, err := s.Started(ctx, r.ID); err == nil {
				if rb, _ := runbooks.ParseWith(st.File, []byte(st.Source), st.Vars); rb != nil {
					fr.rpo = rb.RPO
					if rb.ReverseOf != nil {
						fr.reverseOf = rb.ReverseOf.Name
					}
				}
			}
			byRunbook[r.SHA256] = fr
		}
		h.RPO = fr.rpo
		if h.Facts.ReverseOf == "" {
			h.Facts.ReverseOf = fr.reverseOf
		}
		if h.Standing.Interrupted {
			if evs, err := s.Events(ctx, r.ID); err == nil && len(evs) > 0 {
				last[r.ID] = evs[len(evs)-1].EventMeta().At
			}
		}
		out = append(out, h)
	}
	return out, last, nil
}

func writeTable(w io.Writer, runs []Run, now time.Time, last map[int64]time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRUNBOOK\tMODE\tSTARTED\tDURATION\tOUTCOME\tRTO (ACHIEVED / TARGET)")
	for _, r := range runs {
		rto := "—"
		if r.RTOAchieved != nil {
			rto = textfmt.Duration(*r.RTOAchieved)
		}
		if r.RTOTarget > 0 {
			rto += " / " + textfmt.Duration(r.RTOTarget)
		}
		name := safetext.Line(r.Runbook)
		if r.Facts.ReverseOf != "" {
			name += " (return to normal of " + safetext.Line(r.Facts.ReverseOf) + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, name, safetext.Line(r.Mode), r.StartedAt.Local().Format("2006-01-02 15:04"),
			textfmt.Duration(r.duration(now, last[r.ID])), textfmt.Outcome(r.Outcome()), rto)
	}
	tw.Flush()
}

// WriteText writes the runs as history's tables: the real runs, then the
// simulated ones apart. now and last are as for ToRow.
func WriteText(out io.Writer, runs []Run, now time.Time, last map[int64]time.Time) error {
	var real, sim []Run
	for _, r := range runs {
		if r.Facts.Simulated() {
			sim = append(sim, r)
		} else {
			real = append(real, r)
		}
	}
	bw := &textfmt.ErrWriter{W: out}
	if len(real) > 0 {
		writeTable(bw, real, now, last)
	}
	if len(sim) > 0 {
		if len(real) > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintln(bw, "Simulated runs (sim:// sites, no real hypervisor touched):")
		writeTable(bw, sim, now, last)
	}
	return bw.Err
}
