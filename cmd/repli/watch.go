package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/follow"
	"github.com/repli-dr/repli/ui"
)

func newWatchCmd() *cobra.Command {
	var db string
	var plain bool
	cmd := &cobra.Command{
		Use:   "watch RUN_ID",
		Short: "Follow a run live, read-only, as its driver sees it",
		Long: `Open a run read-only and follow it live: a second engineer on the same
bastion sees what the driver sees. Nothing can be answered or changed from
here; the audit database is opened read-only.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runIDArg(args[0])
			if err != nil {
				return err
			}
			return watchRun(cmd, dbPath(db), id, plain)
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().BoolVar(&plain, "plain", false, "print plain lines instead of the terminal UI")
	return cmd
}

func watchRun(cmd *cobra.Command, path string, id int64, plain bool) error {
	ctx := cmd.Context()
	s, err := openForReview(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	_, rb, rep, err := replayRun(ctx, s, id)
	if err != nil {
		return err
	}
	w := follow.New(rb, rep.Started, id)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.Follow(wctx, s, id)
	usable, why := ui.Usable(cmd.OutOrStdout())
	if !plain && usable {
		return ui.Run(wctx, w, ui.Config{DB: path, Operator: operator(), ReadOnly: true, Renderer: ui.NewRenderer(os.Stdout), Holder: w.Holder()})
	}
	out := cmd.OutOrStdout()
	if !plain && isTerminal(out) {
		fmt.Fprintln(out, "repli: "+why)
	}
	w.Print(out)
	return nil
}
