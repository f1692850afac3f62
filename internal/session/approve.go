package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

// ErrNotApproved: the person asked to approve did not.
var ErrNotApproved = errors.New("not approved")

// Approve gives a further approval to the gate of run id at step (a gate
// that needs several people), as con's operator: it shows the question on
// con.Out, reads the answer on con.In, and records the approval, signed,
// for the driving console to pick up.
func Approve(ctx context.Context, dbPath string, id int64, step string, con Console) error {
	s, err := store.Open(ctx, dbPath)
	if err != nil {
		return usage(err)
	}
	defer s.Close()
	events, err := s.Events(ctx, id)
	if err != nil {
		return usage(err)
	}
	rb, prog, err := engine.LoadRun(events)
	if err != nil {
		return usage(fmt.Errorf("run %d: %w", id, err))
	}
	if prog.Ended != nil {
		return usage(fmt.Errorf("run %d has ended (%s)", id, prog.Ended.Outcome))
	}
	// The gate must be open now: an approval is for a question being asked.
	open := prog.Gate
	if open == nil || open.Step != step {
		var ids []string
		for _, st := range rb.Steps {
			ids = append(ids, st.ID)
		}
		return usage(fmt.Errorf("run %d is not waiting for approval of step %q (its steps: %s)", id, step, strings.Join(ids, ", ")))
	}
	for _, who := range open.Approvals {
		if who == con.Operator {
			return usage(fmt.Errorf("%s has already approved step %s; a different operator must approve", con.Operator, step))
		}
	}
	fmt.Fprintf(con.Out, "run %d · %s · step %s\n%s\n", id, rb.Name, step, open.Prompt)
	in := bufio.NewReader(con.In)
	typed := ""
	if open.Expect != "" {
		fmt.Fprintf(con.Out, "type %q to approve, anything else cancels: ", open.Expect)
		line, _ := in.ReadString('\n')
		if typed = strings.TrimSpace(line); typed != open.Expect {
			return fmt.Errorf("%w: %q is not %q", ErrNotApproved, typed, open.Expect)
		}
	} else {
		fmt.Fprint(con.Out, "approve? y to approve, anything else cancels: ")
		if line, _ := in.ReadString('\n'); strings.TrimSpace(line) != "y" {
			return ErrNotApproved
		}
	}
	client := ""
	if f := strings.Fields(con.SSHClient); len(f) > 0 {
		client = f[0]
	}
	fmt.Fprintln(con.Out, s.SignAs(ctx, con.Operator))
	if _, err := s.RequestApproval(ctx, store.Approval{RunID: id, Step: step, Operator: con.Operator, Host: con.Host, SSHClient: client, Typed: typed}); err != nil {
		return usage(err)
	}
	fmt.Fprintf(con.Out, "approval of step %s by %s sent to the driving console\n", step, con.Operator)
	return nil
}
