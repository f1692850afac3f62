package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/history"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/store"
)

func newHistoryCmd() *cobra.Command {
	var db string
	var output outputFormat
	var f history.Filter
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
			if err := f.Parse(now); err != nil {
				return withCode(exitUsage, err)
			}
			s, err := openForReview(cmd.Context(), dbPath(db))
			if err != nil {
				return err
			}
			defer s.Close()
			runs, last, err := history.Load(cmd.Context(), s, f)
			if err != nil {
				return withCode(exitFailed, err)
			}
			out := cmd.OutOrStdout()
			if output.json() {
				rows := make([]history.Row, 0, len(runs))
				for _, r := range runs {
					rows = append(rows, history.ToRow(r, now, last[r.ID]))
				}
				return writeJSON(out, rows)
			}
			if len(runs) == 0 {
				fmt.Fprintf(out, "no runs in %s yet\n", safetext.Line(s.Path()))
				return nil
			}
			return history.WriteText(out, runs, now, last)
		},
	}
	dbFlag(cmd, &db)
	outputFlag(cmd, &output)
	fl := cmd.Flags()
	fl.StringVar(&f.Runbook, "runbook", "", "only the runs of this runbook (by name)")
	fl.StringVar(&f.Mode, "mode", "", "only the runs in this mode (test, planned, disaster, failback)")
	fl.StringVar(&f.Outcome, "outcome", "", "only the runs with this outcome (succeeded, failed, aborted, interrupted, running)")
	fl.StringVar(&f.Since, "since", "", "only the runs started since a date (2025-11-30), a time, or a while ago (30d, 12h)")
	fl.BoolVar(&f.Simulated, "simulated", false, "only the runs on simulated sites")
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
