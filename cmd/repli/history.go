package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/evidence"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// historyRow is the JSON shape of one run in repli history --json. Its keys
// are a contract for scripts: add, never rename.
type historyRow struct {
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

// historyRun is one run as history lists it.
type historyRun struct {
	store.Run
	standing store.Standing
	facts    store.StartFacts
	rpo      time.Duration
}

// outcome is the run's outcome, interrupted for a run whose console is
// gone: never running with a duration that grows.
func (r historyRun) outcome() string { return evidence.Outcome(r.Run, r.standing) }

// duration is how long the run took; for an interrupted run, until its
// last event.
func (r historyRun) duration(now time.Time, last time.Time) time.Duration {
	if r.EndedAt == nil && r.standing.Interrupted && !last.IsZero() {
		return last.Sub(r.StartedAt)
	}
	return r.Run.Duration(now)
}

func toRow(r historyRun, now, last time.Time) historyRow {
	row := historyRow{
		ID: r.ID, Runbook: r.Runbook, Title: r.Title, Mode: r.Mode, Operator: r.Operator, Host: r.Host,
		AutoApprove: r.AutoApprove, Simulated: r.facts.Simulated(), Outcome: r.outcome(), Reason: r.Reason,
		StartedAt: r.StartedAt.UTC().Format(time.RFC3339), DurationS: r.duration(now, last).Seconds(),
		ReverseOf: r.facts.ReverseOf,
	}
	if row.Outcome == "interrupted" && row.Reason == "" {
		row.Reason = r.standing.Why
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
	if r.rpo > 0 {
		t := r.rpo.Seconds()
		row.RPOTargetS = &t
	}
	return row
}

// historyFilter is what --runbook, --mode, --outcome, --since and
// --simulated keep.
type historyFilter struct {
	runbook, mode, outcome, since string
	simulated                     bool
	sinceT                        time.Time
}

func (f *historyFilter) parse(now time.Time) error {
	if f.since == "" {
		return nil
	}
	if t, err := time.ParseInLocation("2006-01-02", f.since, time.Local); err == nil {
		f.sinceT = t
		return nil
	}
	if t, err := time.Parse(time.RFC3339, f.since); err == nil {
		f.sinceT = t
		return nil
	}
	if n, ok := strings.CutSuffix(f.since, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			f.sinceT = now.AddDate(0, 0, -d)
			return nil
		}
	}
	if d, err := time.ParseDuration(f.since); err == nil && d >= 0 {
		f.sinceT = now.Add(-d)
		return nil
	}
	return withCode(exitUsage, fmt.Errorf("--since %q: give a date (2025-11-30), a time (RFC 3339), days (30d) or a duration (12h)", f.since))
}

func (f historyFilter) keep(r historyRun) bool {
	switch {
	case f.runbook != "" && r.Runbook != f.runbook:
		return false
	case f.mode != "" && r.Mode != f.mode:
		return false
	case f.outcome != "" && r.outcome() != f.outcome:
		return false
	case !f.sinceT.IsZero() && r.StartedAt.Before(f.sinceT):
		return false
	case f.simulated && !r.facts.Simulated():
		return false
	}
	return true
}

// loadHistory lists the runs with what history shows of each: standing
// (interrupted or running), start facts, RPO target (from the runbook
// recorded with the run, parsed once per distinct runbook).
func loadHistory(ctx context.Context, s *store.Store, f historyFilter) ([]historyRun, map[int64]time.Time, error) {
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
	var out []historyRun
	for _, r := range runs {
		h := historyRun{Run: r, standing: stands[r.ID], facts: facts[r.ID]}
		if !f.keep(h) {
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
		h.rpo = fr.rpo
		if h.facts.ReverseOf == "" {
			h.facts.ReverseOf = fr.reverseOf
		}
		if h.standing.Interrupted {
			if evs, err := s.Events(ctx, r.ID); err == nil && len(evs) > 0 {
				last[r.ID] = evs[len(evs)-1].EventMeta().At
			}
		}
		out = append(out, h)
	}
	return out, last, nil
}

func newHistoryCmd() *cobra.Command {
	var db string
	var output outputFormat
	var f historyFilter
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List past runs from the audit trail",
		Long: `List past runs, newest first: runbook, mode, start, duration, outcome, RTO
against its target. Runs on simulated sites (sim://) are listed apart. A run
whose console is gone (its lease stale, or released) without the run ending
reads interrupted: repli resume takes it up again.

Filters: --runbook NAME, --mode MODE, --outcome succeeded|failed|aborted|
interrupted|running, --since 2025-01-01 (or 30d, 12h), --simulated (only
the runs on simulated sites).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			if err := f.parse(now); err != nil {
				return err
			}
			s, err := openForReview(cmd.Context(), dbPath(db))
			if err != nil {
				return err
			}
			defer s.Close()
			runs, last, err := loadHistory(cmd.Context(), s, f)
			if err != nil {
				return withCode(exitFailed, err)
			}
			out := cmd.OutOrStdout()
			if output.json() {
				rows := make([]historyRow, 0, len(runs))
				for _, r := range runs {
					row := toRow(r, now, last[r.ID])
					if err := withRPOAchieved(cmd.Context(), s, r, &row); err != nil {
						return withCode(exitFailed, err)
					}
					rows = append(rows, row)
				}
				return writeJSON(out, rows)
			}
			if len(runs) == 0 {
				fmt.Fprintf(out, "no runs in %s yet\n", safetext.Line(s.Path()))
				return nil
			}
			var real, sim []historyRun
			for _, r := range runs {
				if r.facts.Simulated() {
					sim = append(sim, r)
				} else {
					real = append(real, r)
				}
			}
			bw := &errWriter{w: out}
			if len(real) > 0 {
				historyTable(bw, real, now, last)
			}
			if len(sim) > 0 {
				if len(real) > 0 {
					fmt.Fprintln(bw)
				}
				fmt.Fprintln(bw, "Simulated runs (sim:// sites, no real hypervisor touched):")
				historyTable(bw, sim, now, last)
			}
			return bw.err
		},
	}
	dbFlag(cmd, &db)
	outputFlag(cmd, &output)
	fl := cmd.Flags()
	fl.StringVar(&f.runbook, "runbook", "", "only the runs of this runbook (by name)")
	fl.StringVar(&f.mode, "mode", "", "only the runs in this mode (test, planned, disaster, failback)")
	fl.StringVar(&f.outcome, "outcome", "", "only the runs with this outcome (succeeded, failed, aborted, interrupted, running)")
	fl.StringVar(&f.since, "since", "", "only the runs started since a date (2025-11-30), a time, or a while ago (30d, 12h)")
	fl.BoolVar(&f.simulated, "simulated", false, "only the runs on simulated sites")
	return cmd
}

func historyTable(w io.Writer, runs []historyRun, now time.Time, last map[int64]time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRUNBOOK\tMODE\tSTARTED\tDURATION\tOUTCOME\tRTO (ACHIEVED / TARGET)")
	for _, r := range runs {
		rto := "—"
		if r.RTOAchieved != nil {
			rto = ui.FormatDuration(*r.RTOAchieved)
		}
		if r.RTOTarget > 0 {
			rto += " / " + ui.FormatDuration(r.RTOTarget)
		}
		name := safetext.Line(r.Runbook)
		if r.facts.ReverseOf != "" {
			name += " (return to normal of " + safetext.Line(r.facts.ReverseOf) + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, name, safetext.Line(r.Mode), r.StartedAt.Local().Format("2006-01-02 15:04"),
			ui.FormatDuration(r.duration(now, last[r.ID])), outcomeLabel(r.outcome()), rto)
	}
	tw.Flush()
}

func newVerifyCmd() *cobra.Command {
	var db string
	var runID int64
	var output outputFormat
	var anchors []string
	var allowedSigners string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit trail's hash chain and report the first break",
		Long: `Recompute the audit trail's hash chain, offline, read-only. Exit 0 with
the event count and the head hash when every event is as it was written;
exit 1 naming the first event that does not match and what is wrong with it
(changed, missing, reordered, inserted, truncated).

A trail cut at its end, or rewritten whole with every hash recomputed, can
only be caught against a hash written down elsewhere: give the anchor printed
at the end of each run (and written into the change ticket) with --anchor.

SQLite's own integrity check runs first: a damaged file is named as such,
with what to do (copy it aside, start new runs on a new database).

Every gate decision and every run's end is signed with its operator's SSH
key (sshsig, namespace repli). With --allowed-signers (OpenSSH's
allowed_signers format, principal = the operator's login), verify names every
decision and run whose signature is missing, unsigned, invalid or by a key
not allowed for that operator, and every multi-approver gate without as many
different verified people, and exits 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openForReview(cmd.Context(), dbPath(db))
			if err != nil {
				return err
			}
			defer s.Close()
			v, err := s.Verify(cmd.Context(), runID)
			if err != nil {
				return withCode(exitFailed, err)
			}
			var anchorErrs []string
			for _, a := range anchors {
				id, hash, ok := strings.Cut(a, ":")
				n, perr := strconv.ParseInt(id, 10, 64)
				if !ok || perr != nil {
					return withCode(exitUsage, fmt.Errorf("--anchor %q: write it as EVENT_ID:HASH, as printed at the end of a run", a))
				}
				if err := s.CheckAnchor(cmd.Context(), n, hash); err != nil {
					anchorErrs = append(anchorErrs, err.Error())
				}
			}
			var sigFindings []store.SignatureCheck
			var sigCount int
			if allowedSigners != "" {
				if _, err := os.Stat(allowedSigners); err != nil {
					return withCode(exitUsage, fmt.Errorf("--allowed-signers: %w", err))
				}
				checks, err := s.CheckSignatures(cmd.Context(), runID, allowedSigners)
				if err != nil {
					return withCode(exitFailed, err)
				}
				sigCount = len(checks)
				for _, c := range checks {
					if c.Finding() {
						sigFindings = append(sigFindings, c)
					}
				}
			}
			out := cmd.OutOrStdout()
			switch {
			case output.json():
				if err := writeJSON(out, struct {
					store.Verification
					AnchorErrors      []string               `json:"anchor_errors,omitempty"`
					SignatureFindings []store.SignatureCheck `json:"signature_findings,omitempty"`
				}{v, anchorErrs, sigFindings}); err != nil {
					return err
				}
			case v.Break == store.BreakDamaged:
				fmt.Fprintf(out, "DAMAGED: %s\n", v.Problem)
			case v.OK:
				fmt.Fprintf(out, "ok: %d events, chain intact; head event %d hash %s\n", v.Events, v.HeadID, v.Head)
				if runID != 0 {
					fmt.Fprintf(out, "run %d: %d events\n", runID, v.RunCount)
				}
				if len(anchors) > 0 && len(anchorErrs) == 0 {
					fmt.Fprintf(out, "anchors match: %s\n", strings.Join(anchors, ", "))
				}
			default:
				fmt.Fprintf(out, "TAMPERED (%s): %s\n", safetext.Line(string(v.Break)), safetext.Line(v.Problem))
			}
			for _, e := range anchorErrs {
				if !output.json() {
					fmt.Fprintf(out, "TAMPERED: %s\n", safetext.Line(e))
				}
			}
			if !output.json() && allowedSigners != "" {
				for _, c := range sigFindings {
					fmt.Fprintf(out, "SIGNATURE %s: %s\n", strings.ToUpper(string(c.Status)), safetext.Line(c.String()))
				}
				if len(sigFindings) == 0 {
					fmt.Fprintf(out, "signatures: %d decisions and run ends, each signed by a key %s allows for its operator\n", sigCount, allowedSigners)
				}
			}
			if !v.OK || len(anchorErrs) > 0 || len(sigFindings) > 0 {
				return withCode(exitFailed, errSilent)
			}
			return nil
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().Int64Var(&runID, "run", 0, "also count this run's events")
	outputFlag(cmd, &output)
	cmd.Flags().StringArrayVar(&anchors, "anchor", nil, "EVENT_ID:HASH written down at the end of a run (repeatable)")
	cmd.Flags().StringVar(&allowedSigners, "allowed-signers", "", "OpenSSH allowed_signers FILE (principal = operator login): check every decision's and run end's signature")
	return cmd
}
