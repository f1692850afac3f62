package runbooks

import (
	"fmt"
	"time"
)

// KindSpec declares one step kind: everything the language, the schema, the
// plan, the simulator and the readiness check know about it. Each kind is
// declared once, with RegisterKind; the engine registers its executor
// beside it (engine.RegisterKind). A kind that lacks a part fails the
// table test in kinds_test.go.
type KindSpec struct {
	Name Kind
	// Keys are the keys of the kind's mapping (shutdown: {site, domains,
	// timeout, force}); nil for a kind written as a scalar (manual).
	Keys []string
	// StepKeys are keys of the step itself that only this kind takes
	// (manual: checklist, record); they are among the common step keys.
	StepKeys []string
	// Parse reads the step's kind key (f.val[Name]) into st: the kind's
	// body and its defaults. what names the step in messages ("step stop").
	Parse func(p *parser, f *fields, rb *Runbook, st *Step, what string)
	// Schema returns the JSON Schema of the step's kind key, and the
	// definitions it refers to (merged into the schema's definitions).
	Schema func() (key any, defs map[string]any)
	// Docs documents the keys of the kind's mapping for the schema, by
	// "where.key" ("shutdown.force"); site and domains are shared ("*.site").
	Docs map[string]any
	// Targets lists the domain sets a step of the kind touches, in order;
	// nil for a kind that touches no domain.
	Targets func(st *Step) []Target
	// Sites lists the sites a step of the kind concerns without targeting
	// domains there (both sites of a copy, the site an exec names): in
	// disaster mode a step concerning the primary site is skipped. nil:
	// the sites of its targets only.
	Sites func(st *Step) []string
	// Describe is the plan's one line: what the step does.
	Describe func(st *Step) string
	// Details are the plan's detail lines of the step: label, text.
	Details func(st *Step) [][2]string
	// DefaultTimeout is the kind's own time limit when the runbook gives
	// none (per domain, per probe, per command); zero when it has none.
	DefaultTimeout time.Duration
	// Timeout is the kind's own time limit of a parsed step, as the engine
	// applies it (zero: none). Required when DefaultTimeout is set.
	Timeout func(st *Step) time.Duration
	// Harm says what a destructive step does, for the warning given when
	// it has gate: none ("shuts domains down"); empty for a kind that never
	// stops, removes or rolls back anything.
	Harm string
	// Destructive tells, for a kind with Harm, which of its steps are
	// destructive (snapshot: revert and delete); nil means all of them.
	Destructive func(st *Step) bool
	// Precondition is the state the i-th target of a step (as Targets
	// lists them) must be in before the step: the readiness check judges
	// live domains by it, the simulator populates its sites with it, and
	// the engine skips a domain already in its After state. Required:
	// NoPrecondition for a kind that does not care.
	Precondition func(st *Step, i int) Precondition
}

// Precondition is what a step needs of a domain before it acts.
type Precondition struct {
	// Before is the state the step expects (running, shutoff, paused); ""
	// when any state will do.
	Before string
	// Also lists other states as good as Before (start: crashed).
	Also []string
	// After is the state the step leads to: the engine skips a domain
	// already there, and the readiness check says so as a warning.
	After string
	// Soft: a domain in neither state is a warning, not a blocker (a
	// shutdown acts on any live state).
	Soft bool
	// Refusal says why a domain in another state blocks the step, after
	// "step ID" ("cannot start it"); empty: "expects it <Before>".
	Refusal string
	// MayBeMissing: the step defines the domain; it need not exist yet.
	MayBeMissing bool
}

// NoPrecondition is the Precondition of a kind that needs nothing of the
// state of the domains it touches.
func NoPrecondition(*Step, int) Precondition { return Precondition{} }

// Kinds lists every step kind in declaration order, for messages and the
// schema.
var Kinds []Kind

var kindSpecs = map[Kind]*KindSpec{}

// RegisterKind declares a step kind. It is called at package
// initialisation (the built-in kinds in kinds_builtin.go, a kind of its own
// from the init function of its file) and panics on a second declaration of
// a name: two kinds of one name would silently shadow each other.
func RegisterKind(spec KindSpec) {
	if spec.Name == "" {
		panic("runbooks: RegisterKind without a name")
	}
	if _, dup := kindSpecs[spec.Name]; dup {
		panic(fmt.Sprintf("runbooks: step kind %q is declared twice", spec.Name))
	}
	kindSpecs[spec.Name] = &spec
	Kinds = append(Kinds, spec.Name)
}

// SpecOf returns the declaration of a step kind; nil for a kind nobody
// declared (a step never has one: the parser refuses it).
func SpecOf(k Kind) *KindSpec { return kindSpecs[k] }

// spec is SpecOf for a step the parser made: its kind is declared.
func (s *Step) spec() *KindSpec {
	sp := kindSpecs[s.Kind]
	if sp == nil {
		panic(fmt.Sprintf("runbooks: step %s has undeclared kind %q", s.ID, s.Kind))
	}
	return sp
}

// Targets returns every domain set the step touches, in order.
func (s *Step) Targets() []Target {
	if sp := s.spec(); sp.Targets != nil {
		return sp.Targets(s)
	}
	return nil
}

// Destructive reports whether the step stops, removes or rolls back domains.
func (s *Step) Destructive() bool {
	sp := s.spec()
	if sp.Harm == "" {
		return false
	}
	return sp.Destructive == nil || sp.Destructive(s)
}

// Precondition returns what the step needs of the domains of its i-th
// target.
func (s *Step) Precondition(i int) Precondition { return s.spec().Precondition(s, i) }

// KindTimeout is the kind's own time limit of the step, as the engine
// applies it (per domain, per probe, per command); zero when it has none.
func (s *Step) KindTimeout() time.Duration {
	if sp := s.spec(); sp.Timeout != nil {
		return sp.Timeout(s)
	}
	return 0
}

// Describe is one line that says what the step does, for plans.
func (s *Step) Describe() string { return s.spec().Describe(s) }

// Details are the kind-specific lines of a step in a plan: label, text.
func (s *Step) Details() [][2]string { return s.spec().Details(s) }

// Reached tells whether a domain in state got is in state want, in the
// engine's reading: a blocked domain is running, a crashed one is shut off
// (when after is set: a step leading to shutoff has nothing to do).
func Reached(got, want string, after bool) bool {
	switch {
	case got == want:
		return true
	case want == "running":
		return got == "blocked"
	case want == "shutoff" && after:
		return got == "crashed"
	}
	return false
}

// ownerOf returns the kind that owns a step-level key, or "" when every
// kind takes it.
func ownerOf(key string) Kind {
	for _, k := range Kinds {
		if contains(kindSpecs[k].StepKeys, key) {
			return k
		}
	}
	return ""
}
