package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/session"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/ui"
)

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
	// A runbook's diagnostics, like the session's messages, are said once
	// the screen has closed.
	var said bytes.Buffer
	diagOut = &said
	defer func() { diagOut = os.Stderr; io.Copy(cmd.ErrOrStderr(), &said) }()
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
	data := session.Home(cmd.Context(), dbPath(""), append(runbookDirs(), "runbooks"))
	return sessionExit(session.FirstScreen(cmd.Context(), data, check, openChoice, consoleOf(cmd, false)))
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
