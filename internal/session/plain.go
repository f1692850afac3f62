package session

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/sim"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// printPlain is the plain consumer of engine events: one line per event,
// gates answered line by line on in. It holds no logic of the run.
// open, when given, tells whether a gate or failure read from the trail is
// still waiting (a console attached mid-run reads the questions already
// answered too).
func printPlain(ctx context.Context, con Console, eng ui.Driver, db *store.Store, cancel func(), open func(engine.Event) bool) error {
	out, in := con.Out, con.In
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		close(lines)
	}()
	var runID int64
	for ev := range eng.Events() {
		m := ev.EventMeta()
		runID = m.RunID
		if line := ui.EventLine(ev); line != "" {
			fmt.Fprintf(out, "%s %s\n", m.At.Local().Format("15:04:05"), safetext.Line(line))
		}
		var err error
		switch e := ev.(type) {
		case *engine.GateOpened:
			if r, ok := eng.(interface{ Replica() string }); ok && (open == nil || open(e)) {
				if st := r.Replica(); st != "" {
					fmt.Fprintf(out, "  the trail's %s\n", safetext.Line(st))
				}
			}
			if !eng.Options().AutoApprove && (open == nil || open(e)) {
				err = promptGate(ctx, out, lines, eng, e, eng.Options().Operator)
			}
		case *engine.FailureOpened:
			if open != nil && !open(e) {
				break
			}
			err = promptFailure(ctx, out, lines, eng, e, eng.Options().Operator)
		}
		if err != nil {
			cancel()
		}
	}
	if a := Anchor(context.WithoutCancel(ctx), db, runID); a != "" {
		fmt.Fprintf(out, "audit trail %s · anchor %s (write it into the change ticket; repli verify --anchor checks it)\n", safetext.Line(db.Path()), a)
	}
	return nil
}

// readLine prints a prompt and reads one answer. End of input means nobody
// is there to answer: the run stops where it is and stays resumable.
func readLine(ctx context.Context, out io.Writer, lines <-chan string, prompt string) (string, error) {
	fmt.Fprint(out, prompt)
	select {
	case l, ok := <-lines:
		if !ok {
			if ctx.Value(attachedKey{}) != nil {
				fmt.Fprintln(out, "\nend of input: nobody to answer here; this console leaves the run, which waits for a person (repli attach)")
			} else {
				fmt.Fprintln(out, "\nend of input: nobody to answer; stopping here (the run can be resumed)")
			}
			return "", io.EOF
		}
		return strings.TrimSpace(l), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func promptFailure(ctx context.Context, out io.Writer, lines <-chan string, eng ui.Driver, f *engine.FailureOpened, op string) error {
	for {
		ans, err := readLine(ctx, out, lines, "  "+ui.ChoiceKeys(f.Choices)+": ")
		if err != nil {
			return err
		}
		kind, ok := map[string]engine.InputKind{"r": engine.InputRetry, "m": engine.InputMarkDone, "s": engine.InputSkip, "a": engine.InputAbort}[ans]
		if !ok {
			continue
		}
		in := engine.Input{Step: f.Step, Kind: kind, Operator: op}
		if kind == engine.InputSkip {
			// A skip is a deviation an auditor asks about: say why.
			for in.Text == "" {
				if in.Text, err = readLine(ctx, out, lines, "  why skip it? (recorded): "); err != nil {
					return err
				}
			}
		}
		return eng.Send(in)
	}
}

// promptGate asks the operator on stdin. End of input means nobody is there
// to answer: the run stops where it is and stays resumable.
func promptGate(ctx context.Context, out io.Writer, lines <-chan string, eng ui.Driver, g *engine.GateOpened, op string) error {
	read := func(prompt string) (string, error) { return readLine(ctx, out, lines, prompt) }
	fmt.Fprintf(out, "  %s\n", safetext.Terminal(g.Prompt))
	for i, item := range g.Checklist {
		for {
			ans, err := read(fmt.Sprintf("  [ ] %s — done? type y: ", safetext.Line(item)))
			if err != nil {
				return err
			}
			if ans == "y" || ans == "yes" {
				if err := eng.Send(engine.Input{Step: g.Step, Kind: engine.InputTick, Item: i, Operator: op}); err != nil {
					return err
				}
				break
			}
		}
	}
	if g.Record {
		for {
			ans, err := read("  answer (kept in the audit trail): ")
			if err != nil {
				return err
			}
			if ans != "" {
				return eng.Send(engine.Input{Step: g.Step, Kind: engine.InputApprove, Text: ans, Operator: op})
			}
		}
	}
	var prompt string
	switch g.FormOf() {
	case engine.FormTyped:
		prompt = fmt.Sprintf("  type %q to proceed, anything else refuses: ", g.Expect)
	case engine.FormChecklist, engine.FormManual:
		prompt = "  step done? y to confirm, anything else refuses: "
	default:
		prompt = "  proceed? y to confirm, anything else refuses: "
	}
	ans, err := read(prompt)
	if err != nil {
		return err
	}
	in := engine.Input{Step: g.Step, Kind: engine.InputRefuse, Text: ans, Operator: op}
	if (g.Expect != "" && ans == g.Expect) || (g.Expect == "" && (ans == "y" || ans == "yes")) {
		in.Kind = engine.InputApprove
		if g.Expect == "" {
			in.Text = "" // a "y" is a confirmation, not an answer worth recording
		}
	}
	return eng.Send(in)
}

// attachedKey marks the context of a console attached to a detached engine.
type attachedKey struct{}

func simSite(uri string) (string, bool) { return sim.SiteName(uri) }
