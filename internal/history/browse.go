package history

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/repli-dr/repli/internal/evidence"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// Rows are the runs as history --json prints them, with the RPO each
// achieved.
func Rows(ctx context.Context, s *store.Store, runs []Run, now time.Time, last map[int64]time.Time) ([]Row, error) {
	rows := make([]Row, 0, len(runs))
	for _, r := range runs {
		row := ToRow(r, now, last[r.ID])
		if err := WithRPOAchieved(ctx, s, r, &row); err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// Browse runs the history browser over runs; a run's view and a
// comparison are read from s when opened.
func Browse(ctx context.Context, s *store.Store, runs []Run, now time.Time, last map[int64]time.Time, r *lipgloss.Renderer, repliVersion string) error {
	m := ui.NewHistoryModel(s.Path(), browserRuns(runs, now, last), source(ctx, s, repliVersion), r)
	if _, err := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx)).Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("run the history browser: %w (repli history | cat prints the tables)", err)
	}
	return nil
}

// source reads what the browser opens: a run as repli show tells it,
// two runs as repli compare does.
func source(ctx context.Context, s *store.Store, repliVersion string) ui.HistorySource {
	runView, compare := evidence.Viewers(ctx, s, evidence.Options{RepliVersion: repliVersion})
	return ui.HistorySource{RunView: runView, Compare: compare}
}

// browserRuns are the runs as the browser lists them.
func browserRuns(runs []Run, now time.Time, last map[int64]time.Time) []ui.HistoryRun {
	out := make([]ui.HistoryRun, 0, len(runs))
	for _, r := range runs {
		row := ToRow(r, now, last[r.ID])
		h := ui.HistoryRun{ID: r.ID, Runbook: r.Runbook, Title: r.Title, Mode: r.Mode, Operator: r.Operator, Host: r.Host,
			Outcome: row.Outcome, Started: r.StartedAt, Duration: time.Duration(row.DurationS * float64(time.Second)),
			RTOTarget: r.RTOTarget, Simulated: row.Simulated}
		if r.RTOAchieved != nil {
			h.RTO = *r.RTOAchieved
		}
		out = append(out, h)
	}
	return out
}
