package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/session"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/runbooks/examples"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// recentRuns is how many ended runs the home screen lists.
const recentRuns = 8

// home is repli without a command: on a terminal, the first screen offers
// the runs that stopped before their end, the runbooks to start (bundled,
// ./runbooks, the runbook directories) and the demo, and lists the last runs.
func home(cmd *cobra.Command) error {
	if ok, why := ui.Usable(cmd.OutOrStdout()); !ok {
		if isTerminal(cmd.OutOrStdout()) {
			fmt.Fprintln(cmd.ErrOrStderr(), "repli: "+why)
		}
		return cmd.Help()
	}
	path := store.DefaultPath()
	data := homeData(cmd.Context(), path)
	m := ui.NewHomeModel(data, ui.NewRenderer(os.Stdout))
	if _, err := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(cmd.Context())).Run(); err != nil {
		return nil
	}
	c := m.Chosen()
	if c == nil {
		return nil
	}
	return startChoice(cmd, *c)
}

// startChoice starts what was picked on the home screen.
func startChoice(cmd *cobra.Command, c ui.Choice) error {
	switch c.Kind {
	case ui.ChoiceResume:
		// Picking a run here is the operator's explicit choice to drive it:
		// a dead console's lease is taken over, and that is recorded.
		return resumeRun(cmd, c.RunID, runFlags{}, "picked up from repli's first screen by "+operator())
	case ui.ChoiceStart:
		mode := c.Mode
		if mode == "" {
			mode = "test"
		}
		return runRunbook(cmd, c.Runbook, runFlags{mode: mode, speed: 1, seed: 1, override: c.Override})
	case ui.ChoiceDemo:
		return runDemo(cmd, demoFlags{speed: 4, seed: 1})
	}
	return nil
}

// homeData gathers the home screen: the trail's runs (read-only; a trail
// that does not exist yet is empty) and every runbook repli can find.
func homeData(ctx context.Context, path string) ui.HomeData {
	data := ui.HomeData{DB: shortHome(path), Demo: true}
	var runs []store.Run
	if _, err := os.Stat(path); err == nil {
		if s, err := store.OpenReadOnly(ctx, path); err == nil {
			runs, _ = s.Runs(ctx)
			for _, r := range runs {
				if r.Outcome == engine.OutcomeRunning {
					hr := homeRun(r)
					hr.Standing = string(session.StandingOf(ctx, s, path, r.ID))
					data.Stopped = append(data.Stopped, hr)
				}
			}
			s.Close()
		}
	}
	for _, r := range runs {
		hr := homeRun(r)
		switch {
		case r.Outcome == engine.OutcomeRunning:
		case len(data.Recent) < recentRuns:
			data.Recent = append(data.Recent, hr)
		}
	}
	data.Runbooks = findRunbooks(runs)
	return data
}

func homeRun(r store.Run) ui.HomeRun {
	hr := ui.HomeRun{ID: r.ID, Runbook: r.Runbook, Mode: r.Mode, Operator: r.Operator, Host: r.Host,
		Started: r.StartedAt, Outcome: r.Outcome, RTOTarget: r.RTOTarget}
	if r.RTOAchieved != nil {
		hr.RTO = *r.RTOAchieved
	}
	return hr
}

// findRunbooks lists the runbooks repli can start, as resolveRunbook finds
// them: the runbook directories ($REPLI_RUNBOOKS, the config), ./runbooks,
// then the bundled ones; a name found twice is shown once, where a run by
// name would take it. Runs are newest first: the first run of a runbook's
// name is its last.
func findRunbooks(runs []store.Run) []ui.HomeRunbook {
	var out []ui.HomeRunbook
	seen := map[string]bool{}
	add := func(arg, from, file string, src []byte) {
		rb, diags := runbooks.Parse(file, src)
		h := ui.HomeRunbook{Arg: arg, From: from, Name: strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))}
		if rb == nil || diags.HasErrors() {
			h.Broken = "does not validate; repli validate " + file + " says why"
		} else {
			h.Name, h.Title, h.Sites, h.RTO = rb.Name, rb.Title, rb.SiteNames(), rb.RTO
		}
		if seen[h.Name] {
			return
		}
		seen[h.Name] = true
		for _, r := range runs {
			if r.Runbook == h.Name && r.Outcome != engine.OutcomeRunning {
				hr := homeRun(r)
				h.Last = &hr
				break
			}
		}
		out = append(out, h)
	}
	dirs := append(runbookDirs(), "runbooks")
	for _, dir := range dirs {
		for _, pat := range []string{"*.yaml", "*.yml"} {
			files, _ := filepath.Glob(filepath.Join(dir, pat))
			for _, f := range files {
				if src, err := readRunbookFile(f); err == nil {
					add(f, shortHome(dir), f, src)
				}
			}
		}
	}
	for _, name := range examples.Names() {
		if file, src, err := examples.Source(name); err == nil {
			add(name, "bundled", file, src)
		}
	}
	return out
}
