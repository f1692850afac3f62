package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
	// What repli says while the screen is up is said once it has closed.
	var said bytes.Buffer
	diagOut = &said
	defer func() { diagOut = os.Stderr; io.Copy(cmd.ErrOrStderr(), &said) }()
	con := consoleOf(cmd, false)
	con.Err = &said
	var att *session.Attached
	start := func(ctx context.Context, c ui.Choice) (ui.Driver, ui.Config, error) {
		a, err := openChoice(ctx, c, con)
		if err != nil {
			return nil, ui.Config{}, err
		}
		att = a
		return a.Driver(), a.Config(), nil
	}
	check := func(ctx context.Context, c ui.Choice) (ui.Readiness, error) {
		rb, f, err := choiceRunbook(c)
		if err != nil {
			return ui.Readiness{}, err
		}
		req, err := request(rb, f)
		if err != nil {
			return ui.Readiness{}, err
		}
		return session.Checker(rb, nil, req)(ctx, c)
	}
	cfg := ui.ConsoleConfig{Home: homeData(cmd.Context(), dbPath("")), Renderer: con.Renderer, Out: cmd.OutOrStdout(), Check: check}
	if err := ui.Console(cmd.Context(), cfg, start); err != nil || att == nil {
		return err
	}
	io.Copy(cmd.ErrOrStderr(), &said)
	return sessionExit(att.Leave())
}

// choiceRunbook is the runbook picked on the home screen and how to run it.
func choiceRunbook(c ui.Choice) (*runbooks.Runbook, runFlags, error) {
	f := runFlags{mode: c.Mode, speed: 1, seed: 1, override: c.Override, path: c.Runbook, detach: true}
	if f.mode == "" {
		f.mode = "test"
	}
	if c.Kind == ui.ChoiceDemo {
		f.speed, f.path = 4, "annual-pra-test"
	}
	rb, err := loadRunbookSecrets(f.path, nil, nil)
	if err != nil {
		return nil, f, err
	}
	mode, err := rb.RunMode(f.mode, true)
	f.mode = mode
	return rb, f, err
}

// openChoice starts what was picked on the home screen in a detached
// engine, and attaches this console to it.
func openChoice(ctx context.Context, c ui.Choice, con session.Console) (*session.Attached, error) {
	if c.Kind == ui.ChoiceResume {
		// Picking a run here is the operator's explicit choice to drive it:
		// a dead console's lease is taken over, and that is recorded.
		req := session.Request{DB: dbPath(""), Assess: preflightCheck, Detach: true, Replica: replicaURL()}
		return session.OpenResume(ctx, c.RunID, "picked up from repli's first screen by "+operator(), req, con)
	}
	rb, f, err := choiceRunbook(c)
	if err != nil {
		return nil, err
	}
	req, err := request(rb, f)
	if err != nil {
		return nil, err
	}
	return session.Open(ctx, rb, f.mode, req, con)
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
