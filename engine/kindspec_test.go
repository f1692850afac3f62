package engine

import (
	"testing"

	"github.com/repli-dr/repli/runbooks"
)

// TestEveryKindHasAnExecutor: each kind the language declares has an
// executor and says which verbs it journals (NoActions when none), and
// every verb a kind of the sim or libvirt driver can leave in doubt is
// reconciled against the state its kind leads to.
func TestEveryKindHasAnExecutor(t *testing.T) {
	t.Parallel()
	for _, k := range runbooks.Kinds {
		x, ok := executors[k]
		switch {
		case !ok:
			t.Errorf("step kind %s has no executor: engine.RegisterKind it", k)
		case x.Run == nil:
			t.Errorf("step kind %s: the executor has no Run", k)
		case x.Verbs == nil:
			t.Errorf("step kind %s: the executor says nothing of its verbs (NoActions when it journals none)", k)
		}
	}
	for verb, want := range map[string]DomainState{"shutdown": StateShutoff, "destroy": StateShutoff, "start": StateRunning, "suspend": StatePaused, "resume": StateRunning, "undefine": ""} {
		if got, ok := verbWant(verb); !ok || got != want {
			t.Errorf("an in-doubt %s is reconciled against %q (known %t), want %q", verb, got, ok, want)
		}
	}
}

// TestRegisterKindRefusesASecondExecutor: one executor per kind.
func TestRegisterKindRefusesASecondExecutor(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a second executor for start was accepted")
		}
	}()
	RegisterKind(runbooks.KindStart, Executor{})
}
