package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/store"
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
	ctx := cmd.Context()
	s, err := store.Open(ctx, path)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer s.Close()
	_, rb, prog, err := replayRun(ctx, s, id)
	if err != nil {
		return err
	}
	if prog.Ended != nil {
		return withCode(exitUsage, fmt.Errorf("run %d has ended (%s)", id, prog.Ended.Outcome))
	}
	// The gate must be open now: an approval is for a question being asked.
	open := prog.Gate
	if open == nil || open.Step != step {
		var ids []string
		for _, st := range rb.Steps {
			ids = append(ids, st.ID)
		}
		return withCode(exitUsage, fmt.Errorf("run %d is not waiting for approval of step %q (its steps: %s)", id, step, strings.Join(ids, ", ")))
	}
	approvedBy := map[string]bool{}
	for _, who := range open.Approvals {
		approvedBy[who] = true
	}
	op := operator()
	if approvedBy[op] {
		return withCode(exitUsage, fmt.Errorf("%s has already approved step %s; a different operator must approve", op, step))
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "run %d · %s · step %s\n%s\n", id, rb.Name, step, open.Prompt)
	typed := ""
	if open.Expect != "" {
		fmt.Fprintf(out, "type %q to approve, anything else cancels: ", open.Expect)
		line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		typed = strings.TrimSpace(line)
		if typed != open.Expect {
			return withCode(exitFailed, fmt.Errorf("not approved: %q is not %q", typed, open.Expect))
		}
	} else {
		fmt.Fprint(out, "approve? y to approve, anything else cancels: ")
		line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if strings.TrimSpace(line) != "y" {
			return withCode(exitFailed, fmt.Errorf("not approved"))
		}
	}
	host, _ := os.Hostname()
	client := ""
	if f := strings.Fields(os.Getenv("SSH_CONNECTION")); len(f) > 0 {
		client = f[0]
	}
	fmt.Fprintln(out, s.SignAs(ctx, op))
	if _, err := s.RequestApproval(ctx, store.Approval{RunID: id, Step: step, Operator: op, Host: host, SSHClient: client, Typed: typed}); err != nil {
		return withCode(exitUsage, err)
	}
	fmt.Fprintf(out, "approval of step %s by %s sent to the driving console\n", step, op)
	return nil
}
