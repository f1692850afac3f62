// Package runbooks is repli's runbook language: the validated types, the YAML
// parser that keeps every node's position, and the validator that reports all
// problems at once as file:line:col messages.
package runbooks

import (
	"fmt"
	"time"
)

// Pos is a position in a runbook file, 1-based.
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"col"`
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Runbook is a parsed and validated runbook.
type Runbook struct {
	File        string
	Source      []byte
	Version     int
	Name        string
	Title       string
	Description string
	RTO         time.Duration
	Sites       []*Site
	Steps       []*Step
}

// Site is one of the runbook's sites: a name and the libvirt URI that
// reaches it. A site served by several hosts lists them all in URIs (URI is
// then the first); a domain is found on whichever host has it.
type Site struct {
	Name string
	URI  string
	URIs []string
	Pos  Pos
}

// Site returns the site called name, or nil.
func (rb *Runbook) Site(name string) *Site {
	for _, s := range rb.Sites {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// SiteNames lists the sites in file order.
func (rb *Runbook) SiteNames() []string {
	out := make([]string, len(rb.Sites))
	for i, s := range rb.Sites {
		out[i] = s.Name
	}
	return out
}

// Domains lists every domain the runbook names, per site, in first-seen order.
func (rb *Runbook) Domains() map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	add := func(site string, doms []string) {
		for _, d := range doms {
			if !seen[site+"\x00"+d] {
				seen[site+"\x00"+d] = true
				out[site] = append(out[site], d)
			}
		}
	}
	for _, st := range rb.Steps {
		if site, doms := st.Target(); site != "" {
			add(site, doms)
		}
	}
	return out
}

// Gate is how a step waits for the operator before it acts.
type Gate string

// Gates.
const (
	GateNone    Gate = "none"
	GateConfirm Gate = "confirm"
	GateTyped   Gate = "typed"
)

// RTOMark says that a step starts or stops the recovery clock.
type RTOMark string

// RTO marks.
const (
	RTOStart RTOMark = "start"
	RTOStop  RTOMark = "stop"
)

// OnFailure is a step's failure policy.
type OnFailure string

// Failure policies.
const (
	OnFailureAsk      OnFailure = "ask"
	OnFailureAbort    OnFailure = "abort"
	OnFailureContinue OnFailure = "continue"
)

// DefaultRetryDelay is the first wait before an automatic retry; it doubles.
const DefaultRetryDelay = 5 * time.Second

// Kind is what a step does.
type Kind string

// Step kinds.
const (
	KindManual   Kind = "manual"
	KindCheck    Kind = "check"
	KindShutdown Kind = "shutdown"
	KindStart    Kind = "start"
)

// Kinds lists every step kind, for messages and the schema.
var Kinds = []Kind{KindManual, KindCheck, KindShutdown, KindStart}

// Step is one step of a runbook. Exactly one of the kind bodies is set.
type Step struct {
	ID    string
	Title string
	Pos   Pos
	Kind  Kind
	Gate  Gate
	RTO   RTOMark

	// OnFailure is what happens when the step fails after its retries:
	// empty means ask when a person drives the run, abort otherwise.
	OnFailure  OnFailure
	Retries    int
	RetryDelay time.Duration

	Manual   *Manual
	Check    *Check
	Shutdown *Shutdown
	Start    *Start
}

// Target returns the site a step acts on and the domains it names, in order.
func (s *Step) Target() (site string, domains []string) {
	switch s.Kind {
	case KindCheck:
		return s.Check.Site, s.Check.Domains
	case KindShutdown:
		return s.Shutdown.Site, s.Shutdown.Domains
	case KindStart:
		for _, g := range s.Start.Groups {
			domains = append(domains, g...)
		}
		return s.Start.Site, domains
	}
	return "", nil
}

// Manual is a step a person performs; repli waits until every checklist item
// is ticked and the operator says it is done.
type Manual struct {
	Text      string
	Checklist []string
}

// Check asserts that domains at a site are in a state.
type Check struct {
	Site    string
	Domains []string
	State   string
}

// Shutdown stops domains gracefully, one at a time, in order, and waits until
// each is shut off; after Timeout it forces the domain off when Force is set.
type Shutdown struct {
	Site    string
	Domains []string
	Timeout time.Duration
	Force   bool
}

// Start starts domains group by group; the members of a group start together.
type Start struct {
	Site    string
	Groups  [][]string
	Timeout time.Duration
}

// Default timeouts when a runbook gives none.
const (
	DefaultShutdownTimeout = 5 * time.Minute
	DefaultStartTimeout    = 5 * time.Minute
)

// CheckStates are the domain states a check step may expect.
var CheckStates = []string{"running", "shutoff", "paused"}
