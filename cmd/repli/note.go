package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/store"
)

func newNoteCmd() *cobra.Command {
	var db string
	var f store.Finding
	cmd := &cobra.Command{
		Use:   "note RUN_ID --finding TEXT",
		Short: "Record a finding on a run that has ended, into its audit trail",
		Long: `Record a finding (an observation with its corrective action) on a run that
has ended: what the review after the drill found. An ended run is sealed;
a finding is the one event it still takes. It is chained after the run's
end like every event, signed with your SSH key ($REPLI_SIGN_KEY, else the
ssh-agent's first key; recorded as unsigned, with why, without one), and
checked by repli verify. The report lists it in its findings section,
marked as recorded after the run.

During a run, write the note in its console (n) and start it with
"finding:".`,
		Example: `  repli note 42 --finding "the DNS TTL of a day delays the switch" --owner "Jean Dupont" --due 2027-01-15 --step dns-switch`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runIDArg(args[0])
			if err != nil {
				return err
			}
			return note(cmd, dbPath(db), id, f)
		},
	}
	dbFlag(cmd, &db)
	fl := cmd.Flags()
	fl.StringVar(&f.Text, "finding", "", "what was found, and what to do about it (required)")
	fl.StringVar(&f.Owner, "owner", "", "who owns the corrective action")
	fl.StringVar(&f.Due, "due", "", "the corrective action's due date, YYYY-MM-DD")
	fl.StringVar(&f.Step, "step", "", "the runbook step the finding is about")
	_ = cmd.MarkFlagRequired("finding")
	return cmd
}

func note(cmd *cobra.Command, path string, id int64, f store.Finding) error {
	ctx := cmd.Context()
	if strings.TrimSpace(f.Text) == "" {
		return withCode(exitUsage, errors.New("--finding is empty: say what was found"))
	}
	if f.Due != "" {
		if _, err := time.Parse("2006-01-02", f.Due); err != nil {
			return withCode(exitUsage, fmt.Errorf("--due %q is not a date: give it as YYYY-MM-DD (2027-01-15)", safetext.Line(f.Due)))
		}
	}
	s, err := store.Open(ctx, path)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer s.Close()
	if f.Step != "" {
		_, rb, _, err := replayRun(ctx, s, id)
		if err != nil {
			return err
		}
		var ids []string
		found := false
		for _, st := range rb.Steps {
			ids = append(ids, st.ID)
			found = found || st.ID == f.Step
		}
		if !found {
			return withCode(exitUsage, fmt.Errorf("run %d's runbook has no step %q (its steps: %s)", id, safetext.Line(f.Step), strings.Join(ids, ", ")))
		}
	}
	f.Operator = operator()
	out := cmd.OutOrStdout()
	signing := s.SignAs(ctx, f.Operator)
	got, err := s.AddFinding(ctx, id, f)
	switch {
	case errors.Is(err, store.ErrRunNotEnded), errors.Is(err, store.ErrNoRun):
		return withCode(exitUsage, err)
	case err != nil:
		return withCode(exitFailed, err)
	}
	fmt.Fprintln(out, signing)
	fmt.Fprintf(out, "finding recorded on run %d as event #%d by %s: %s\n", id, got.Seq, safetext.Line(got.Operator), safetext.Line(got.Text))
	return nil
}
