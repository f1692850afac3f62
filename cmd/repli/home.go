package main

import (
	"fmt"
	"os"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// home is repli without a command: on a terminal, the first screen offers
// the runs that stopped before their end, then the demo.
func home(cmd *cobra.Command) error {
	if !isTerminal(cmd.OutOrStdout()) {
		return cmd.Help()
	}
	path := store.DefaultPath()
	var items []ui.HomeItem
	if _, err := os.Stat(path); err == nil {
		if s, err := store.OpenReadOnly(cmd.Context(), path); err == nil {
			runs, _ := s.Runs(cmd.Context())
			s.Close()
			for _, r := range runs {
				if r.Outcome != engine.OutcomeRunning {
					continue
				}
				items = append(items, ui.HomeItem{
					RunID:  r.ID,
					Label:  fmt.Sprintf("Resume run %d · %s · %s mode", r.ID, r.Runbook, r.Mode),
					Detail: fmt.Sprintf("started %s by %s on %s", r.StartedAt.Local().Format("2006-01-02 15:04"), r.Operator, r.Host),
				})
			}
		}
	}
	if len(items) == 0 {
		return runDemo(cmd, demoFlags{speed: 4})
	}
	items = append(items, ui.HomeItem{Label: "Start the demo drill", Detail: "the bundled annual-pra-test on a simulated two-site lab"})
	m := ui.NewHomeModel(items, shortHome(path), ui.NewRenderer(os.Stdout))
	if _, err := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(cmd.Context())).Run(); err != nil {
		return nil
	}
	switch c := m.Chosen(); {
	case c == nil:
		return nil
	case c.RunID != 0:
		// Picking a run here is the operator's explicit choice to drive it:
		// a dead console's lease is taken over, and that is recorded.
		return resumeRun(cmd, c.RunID, runFlags{}, "picked up from repli's first screen by "+operator())
	default:
		return runDemo(cmd, demoFlags{speed: 4})
	}
}
