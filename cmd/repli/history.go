package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/evidence"
	"github.com/repli-dr/repli/internal/history"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/ui"
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

On a terminal, history is a browser: / filters (words, and runbook: mode:
outcome: since:YYYY-MM-DD date:YYYY-MM-DD), s sorts, enter opens a run (its
timeline, gates, deviations, RTO/RPO, findings, chain and signatures, as
repli show tells it), space marks a run and c compares it with the run under
the cursor (as repli compare), t shows or hides the simulated runs, esc goes
back, q quits. Piped, or with TERM=dumb, it prints the tables.

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
				rows, err := history.Rows(cmd.Context(), s, runs, now, last)
				if err != nil {
					return withCode(exitFailed, err)
				}
				return writeJSON(out, rows)
			}
			if len(runs) == 0 {
				fmt.Fprintf(out, "no runs in %s yet\n", safetext.Line(s.Path()))
				return nil
			}
			if ok, _ := ui.Usable(out); ok {
				if err := history.Browse(cmd.Context(), s, runs, now, last, ui.NewRenderer(os.Stdout), repliVersion()); err != nil {
					return withCode(exitFailed, err)
				}
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
			var as []evidence.Anchor
			for _, a := range anchors {
				an, err := evidence.ParseAnchor(a)
				if err != nil {
					return withCode(exitUsage, err)
				}
				as = append(as, an)
			}
			if allowedSigners != "" {
				if _, err := os.Stat(allowedSigners); err != nil {
					return withCode(exitUsage, fmt.Errorf("--allowed-signers: %w", err))
				}
			}
			c, err := evidence.CheckTrail(cmd.Context(), s, v, runID, as, allowedSigners)
			if err != nil {
				return withCode(exitFailed, err)
			}
			if output.json() {
				if err := writeJSON(cmd.OutOrStdout(), c); err != nil {
					return err
				}
			} else {
				c.WriteText(cmd.OutOrStdout())
			}
			if !c.Passed() {
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
