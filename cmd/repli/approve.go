package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/session"
)

func newApproveCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "approve RUN_ID STEP",
		Short: "Give a second approval to a gate that needs two operators",
		Long: `Approve a gate that needs more than one operator (approvers: 2), as a
different person from the one driving the run, from your own session. The
approval is recorded with your login, host and SSH client; the driving
console picks it up within a second. For a typed gate you type the same
text as the driver.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runIDArg(args[0])
			if err != nil {
				return err
			}
			return approve(cmd, dbPath(db), id, args[1])
		},
	}
	dbFlag(cmd, &db)
	return cmd
}

func approve(cmd *cobra.Command, path string, id int64, step string) error {
	err := session.Approve(cmd.Context(), path, id, step, consoleOf(cmd, true))
	if errors.Is(err, session.ErrNotApproved) {
		return withCode(exitFailed, err)
	}
	return sessionExit(err)
}
