package runbooks

import (
	"strings"
	"testing"
)

// specProblems lists the parts a kind declaration lacks.
func specProblems(sp *KindSpec) []string {
	var out []string
	need := func(ok bool, part string) {
		if !ok {
			out = append(out, part)
		}
	}
	need(sp.Name != "", "a name")
	need(sp.Keys != nil, "keys (an empty list for a kind written as a scalar)")
	need(sp.Parse != nil, "parse")
	need(sp.Schema != nil, "a schema")
	need(sp.Targets != nil, "targets")
	need(sp.Describe != nil, "a plan line (Describe)")
	need(sp.Details != nil, "plan details")
	need(sp.Precondition != nil, "a precondition (NoPrecondition when it needs none)")
	need(sp.DefaultTimeout == 0 || sp.Timeout != nil, "the Timeout that applies its DefaultTimeout")
	need(sp.Destructive == nil || sp.Harm != "", "the Harm its Destructive steps do")
	if sp.Schema != nil {
		key, _ := sp.Schema()
		need(key != nil, "the schema of its key")
	}
	for _, k := range sp.StepKeys {
		need(contains(commonStepKeys, k), "step key "+k+" among the common step keys")
	}
	for _, k := range sp.Keys {
		_, own := sp.Docs[string(sp.Name)+"."+k]
		_, shared := keyDocs["*."+k]
		need(own || shared, "the documentation of its key "+k)
	}
	return out
}

// TestEveryKindIsComplete: each declared kind has every part.
func TestEveryKindIsComplete(t *testing.T) {
	t.Parallel()
	if len(Kinds) < 13 {
		t.Fatalf("only %d kinds declared: %v", len(Kinds), Kinds)
	}
	for _, k := range Kinds {
		if p := specProblems(SpecOf(k)); len(p) > 0 {
			t.Errorf("step kind %s lacks %s", k, strings.Join(p, ", "))
		}
	}
}

// TestIncompleteKindIsCaught: the completeness check fails a declaration
// with a part missing, so the test above can fail.
func TestIncompleteKindIsCaught(t *testing.T) {
	t.Parallel()
	sp := *SpecOf(KindShutdown)
	sp.Precondition = nil
	sp.Docs = nil
	p := strings.Join(specProblems(&sp), "; ")
	for _, want := range []string{"precondition", "documentation of its key timeout"} {
		if !strings.Contains(p, want) {
			t.Errorf("a shutdown without %s is not caught: %q", want, p)
		}
	}
}

// TestEveryKindDescribesItsSteps parses a runbook with a step of every
// kind and asks each declaration about it: the plan line and details are
// written, and the precondition of each target is a state the language
// knows.
func TestEveryKindDescribesItsSteps(t *testing.T) {
	t.Parallel()
	rb, diags, err := Load("../testdata/runbooks/good/every-kind.yaml")
	if err != nil || diags.HasErrors() {
		t.Fatalf("load: %v %v", err, diags)
	}
	seen := map[Kind]bool{}
	for _, st := range rb.Steps {
		seen[st.Kind] = true
		if st.Describe() == "" || len(st.Details()) == 0 {
			t.Errorf("step %s (%s): plan line %q, details %v", st.ID, st.Kind, st.Describe(), st.Details())
		}
		for i := range st.Targets() {
			pre := st.Precondition(i)
			for _, s := range append([]string{pre.Before, pre.After}, pre.Also...) {
				if s != "" && s != "crashed" && !contains(CheckStates, s) {
					t.Errorf("step %s target %d: precondition state %q", st.ID, i, s)
				}
			}
		}
	}
	for _, k := range Kinds {
		if !seen[k] {
			t.Errorf("every-kind.yaml has no %s step: add one", k)
		}
	}
}

// TestRegisterKindRefusesADuplicate: two declarations of one name would
// shadow each other.
func TestRegisterKindRefusesADuplicate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a second declaration of shutdown was accepted")
		}
	}()
	RegisterKind(KindSpec{Name: KindShutdown})
}
