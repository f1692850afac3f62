package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/safetext"
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
	Outcome      string   `json:"outcome"`
	Reason       string   `json:"reason,omitempty"`
	StartedAt    string   `json:"started_at"`
	EndedAt      *string  `json:"ended_at"`
	DurationS    float64  `json:"duration_s"`
	RTOTargetS   *float64 `json:"rto_target_s"`
	RTOAchievedS *float64 `json:"rto_achieved_s"`
	RTOMet       *bool    `json:"rto_met"`
}

func toRow(r store.Run, now time.Time) historyRow {
	row := historyRow{
		ID: r.ID, Runbook: r.Runbook, Title: r.Title, Mode: r.Mode, Operator: r.Operator, Host: r.Host,
		AutoApprove: r.AutoApprove, Outcome: string(r.Outcome), Reason: r.Reason,
		StartedAt: r.StartedAt.UTC().Format(time.RFC3339), DurationS: r.Duration(now).Seconds(),
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
	return row
}

func newHistoryCmd() *cobra.Command {
	var db string
	var output outputFormat
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List past runs from the audit trail",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openForReview(cmd.Context(), dbPath(db))
			if err != nil {
				return err
			}
			defer s.Close()
			runs, err := s.Runs(cmd.Context())
			if err != nil {
				return withCode(exitFailed, err)
			}
			now := time.Now()
			out := cmd.OutOrStdout()
			if output.json() {
				rows := make([]historyRow, 0, len(runs))
				for _, r := range runs {
					rows = append(rows, toRow(r, now))
				}
				return writeJSON(out, rows)
			}
			if len(runs) == 0 {
				fmt.Fprintf(out, "no runs in %s yet\n", safetext.Line(s.Path()))
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRUNBOOK\tMODE\tSTARTED\tDURATION\tOUTCOME\tRTO (ACHIEVED / TARGET)")
			for _, r := range runs {
				rto := "—"
				if r.RTOAchieved != nil {
					rto = ui.FormatDuration(*r.RTOAchieved)
				}
				if r.RTOTarget > 0 {
					rto += " / " + ui.FormatDuration(r.RTOTarget)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, safetext.Line(r.Runbook), safetext.Line(r.Mode), r.StartedAt.Local().Format("2006-01-02 15:04"),
					ui.FormatDuration(r.Duration(now)), ui.OutcomeLabel(r.Outcome), rto)
			}
			return tw.Flush()
		},
	}
	dbFlag(cmd, &db)
	outputFlag(cmd, &output)
	return cmd
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
