package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/repli-dr/repli/runbooks"
)

func init() {
	RegisterKind(runbooks.KindFence, Executor{Run: (*Engine).fence, Verbs: map[string]DomainState{"fence": StateShutoff}})
}

// fence makes sure each domain of the target cannot run at the lost site.
// Where the site answers, every copy is forced off and its autostart
// turned off (Fence), journaled as one action per domain. Where it does
// not, nothing can be proven from here: the operator states how the site
// is isolated, at a gate, and the statement is recorded. A run answering
// gates by itself (--auto-approve) cannot state that: the step fails.
func (e *Engine) fence(ctx context.Context, st *runbooks.Step) error {
	t := *st.Power
	hv := e.sites[t.Site]
	doms, err := e.resolve(ctx, st, t)
	if errors.Is(err, ErrUnreachable) {
		return e.isolationGate(ctx, st, t.Site, t.Domains, err)
	}
	if err != nil {
		return err
	}
	var unreachable []string
	var cause error
	for _, d := range doms {
		err := e.act(ctx, st, t.Site, d, "fence", func(ctx context.Context) error {
			_, err := Fence(ctx, hv, d)
			return err
		})
		switch {
		case errors.Is(err, ErrUnreachable):
			unreachable, cause = append(unreachable, d), err
		case err != nil:
			return err
		}
	}
	if len(unreachable) > 0 {
		return e.isolationGate(ctx, st, t.Site, unreachable, cause)
	}
	return nil
}

// isolationGate asks the operator how a site that does not answer is
// isolated, and records the answer.
func (e *Engine) isolationGate(ctx context.Context, st *runbooks.Step, site string, doms []string, cause error) error {
	if e.opts.AutoApprove {
		return fmt.Errorf("site %s does not answer, so its domains cannot be fenced from here (%v); a person must state how it is isolated: run without --auto-approve", site, cause)
	}
	what := "its domains"
	if len(doms) > 0 {
		what = strings.Join(doms, ", ")
	}
	open := &GateOpened{Step: st.ID, Form: FormManual, Gate: "isolation", Record: true, Targets: doms, Approvers: 1,
		Prompt: fmt.Sprintf("Site %s does not answer: %s cannot be fenced from here (%v). State how the site is isolated so they cannot come back beside the new ones (power cut, network cut, storage fenced), or refuse.", site, what, cause)}
	if err := e.emit(ctx, open); err != nil {
		return err
	}
	opened := time.Now()
	for {
		var in Input
		select {
		case <-ctx.Done():
			return ctx.Err()
		case in = <-e.inputs:
		}
		if in.Step != st.ID {
			continue
		}
		switch in.Kind {
		case InputRefuse:
			if err := e.emit(ctx, &GateDecided{Step: st.ID, Approved: false, Operator: in.Operator, Typed: in.Text, Waited: time.Since(opened)}); err != nil {
				return err
			}
			return fmt.Errorf("%w by %s: site %s is not fenced", ErrRefused, in.Operator, site)
		case InputApprove:
			if strings.TrimSpace(in.Text) == "" {
				if err := e.logf(ctx, st.ID, "warn", "type how site %s is isolated; it is kept in the audit trail", site); err != nil {
					return err
				}
				continue
			}
			if err := e.emit(ctx, &GateDecided{Step: st.ID, Approved: true, Operator: in.Operator, Typed: in.Text, Waited: time.Since(opened), Approvals: 1, Needed: 1}); err != nil {
				return err
			}
			return e.logf(ctx, st.ID, "warn", "site %s fenced by isolation, as stated by %s: %s", site, in.Operator, in.Text)
		}
	}
}
