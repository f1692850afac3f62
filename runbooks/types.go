// Package runbooks is repli's runbook language: the validated types, the YAML
// parser that keeps every node's position, and the validator that reports all
// problems at once as file:line:col messages.
package runbooks

import (
	"fmt"
	"path"
	"sort"
	"strings"
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
	File string
	// Source is the text recorded with a run, hashed by SHA256: the file as
	// it is, but for passwords written in site URIs, masked as xxxxx.
	Source      []byte
	Version     int
	Name        string
	Title       string
	Description string
	RTO         time.Duration
	RPO         time.Duration
	Vars        map[string]Var
	Sites       []*Site
	Steps       []*Step
	// ReverseOf names the runbook this one is the way back of, when repli
	// reverse wrote it: its runs are failbacks (see RunMode).
	ReverseOf *Origin
}

// Origin names a runbook by its name and the SHA-256 of its text, the two
// things a run records about the runbook it ran.
type Origin struct {
	Name   string
	SHA256 string
	Pos    Pos
}

// Var is a runbook variable: a string, or a list of strings (which can stand
// for a whole domain list).
type Var struct {
	Name   string
	Value  string
	List   []string
	IsList bool
	Pos    Pos
	// Secret is set for a var given with --secret-var NAME=@FILE: SecretFile
	// names the file, Value is empty. Its content is never read here, stored
	// or shown; it may only be a whole env value of an exec step, which then
	// reads it like secret_env.
	Secret     bool
	SecretFile string
}

// Site is one of the runbook's sites: a name and the libvirt URI that
// reaches it. A site served by several hosts lists them all in URIs (URI is
// then the first); a domain is found on whichever host has it. Role says
// which site is the production one: in disaster mode the primary site is
// assumed lost.
type Site struct {
	Name string
	URI  string
	URIs []string
	Role Role
	// MaxPerHost bounds the actions on domains that run at once on any
	// one host of the site, whatever a step's max_parallel allows (0: no
	// bound but the step's). It keeps a boot storm off a hypervisor.
	MaxPerHost int
	Pos        Pos
}

// Role is a site's part in the plan.
type Role string

// Roles.
const (
	RolePrimary   Role = "primary"
	RoleSecondary Role = "secondary"
)

// Primary returns the site whose role is primary.
func (rb *Runbook) Primary() *Site {
	for _, s := range rb.Sites {
		if s.Role == RolePrimary {
			return s
		}
	}
	return nil
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

// Domains lists every domain the runbook names explicitly, per site, in
// first-seen order. Globs and "all" are resolved only at run time.
func (rb *Runbook) Domains() map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, st := range rb.Steps {
		for _, t := range st.Targets() {
			for _, d := range t.Domains {
				if !seen[t.Site+"\x00"+d] {
					seen[t.Site+"\x00"+d] = true
					out[t.Site] = append(out[t.Site], d)
				}
			}
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

// Step kinds. Each is declared by a KindSpec (kinds_builtin.go).
const (
	KindManual    Kind = "manual"
	KindCheck     Kind = "check"
	KindShutdown  Kind = "shutdown"
	KindStart     Kind = "start"
	KindDestroy   Kind = "destroy"
	KindSuspend   Kind = "suspend"
	KindResume    Kind = "resume"
	KindDefine    Kind = "define"
	KindUndefine  Kind = "undefine"
	KindSnapshot  Kind = "snapshot"
	KindAutostart Kind = "autostart"
	KindExec      Kind = "exec"
	KindWait      Kind = "wait"
)

// Modes a run can be in.
var Modes = []string{"test", "planned", "disaster", "failback"}

// Step is one step of a runbook. Exactly one of the kind bodies is set.
type Step struct {
	ID          string
	Title       string
	Description string
	Pos         Pos
	Kind        Kind
	Gate        Gate
	// Approvers is how many different operators must approve the gate.
	Approvers int
	RTO       RTOMark

	// OnFailure is what happens when the step fails after its retries:
	// empty means ask when a person drives the run, abort otherwise.
	OnFailure  OnFailure
	Retries    int
	RetryDelay time.Duration
	// Timeout bounds the whole step, retries excepted; zero is no bound.
	Timeout time.Duration
	// Modes, when set, are the only modes the step runs in; SkipIn are
	// modes it does not run in.
	Modes  []string
	SkipIn []string

	Manual    *Manual
	Check     *Check
	Shutdown  *Shutdown
	Start     *Start
	Power     *Target // destroy, suspend, resume, undefine
	Define    *Define
	Snapshot  *Snapshot
	Autostart *Autostart
	Exec      *Exec
	Wait      *Wait
	// Body is the body of a kind declared in a file of its own (see
	// KindSpec): its Parse sets it, and its executor reads it back with a
	// type assertion.
	Body any
}

// Target is a set of domains at one site: a list, a glob such as "web-*",
// or every domain defined there ("all"). Globs and all are resolved against
// the site's live domain list when the step runs.
type Target struct {
	Site    string
	Domains []string
	Glob    string
	All     bool
}

// Dynamic reports whether the target is resolved only at run time.
func (t Target) Dynamic() bool { return t.Glob != "" || t.All }

// Match resolves a glob or "all" against the names of the domains defined
// at the target's site: those it matches, sorted. The engine (at the step
// and its gate) and the readiness check (at preflight) resolve the same way.
func (t Target) Match(names []string) []string {
	out := []string{}
	for _, n := range names {
		if ok, _ := path.Match(t.Glob, n); t.All || ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// String renders the target for plans and prompts.
func (t Target) String() string {
	switch {
	case t.All:
		return "all domains at " + t.Site
	case t.Glob != "":
		return t.Glob + " at " + t.Site
	case len(t.Domains) == 0:
		return "site " + t.Site
	}
	return strings.Join(t.Domains, ", ") + " at " + t.Site
}

// Target returns the site a step acts on and the domains it names, in order.
func (s *Step) Target() (site string, domains []string) {
	ts := s.Targets()
	if len(ts) == 0 {
		return "", nil
	}
	return ts[0].Site, ts[0].Domains
}

// Sites lists the sites a step touches: those of its targets, then those
// its kind says it concerns without targeting domains there (KindSpec.Sites).
func (s *Step) Sites() []string {
	var out []string
	for _, t := range s.Targets() {
		if !contains(out, t.Site) {
			out = append(out, t.Site)
		}
	}
	if sp := s.spec(); sp.Sites != nil {
		for _, site := range sp.Sites(s) {
			if site != "" && !contains(out, site) {
				out = append(out, site)
			}
		}
	}
	return out
}

// RunsIn reports whether the step runs in a mode, and why not. In disaster
// mode the primary site is lost: a step touching it runs only if it names
// disaster in its modes.
func (s *Step) RunsIn(rb *Runbook, mode string) (bool, string) {
	switch {
	case contains(s.SkipIn, mode):
		return false, "skip_in " + mode
	case len(s.Modes) > 0 && !contains(s.Modes, mode):
		return false, "runs only in " + strings.Join(s.Modes, ", ")
	case mode == "disaster" && !contains(s.Modes, "disaster"):
		if p := rb.Primary(); p != nil && contains(s.Sites(), p.Name) {
			return false, "the primary site " + p.Name + " is assumed lost in disaster mode"
		}
	}
	return true, ""
}

// Manual is a step a person performs; repli waits until every checklist item
// is ticked and the operator says it is done. With Record, the operator
// also types a free-text answer, which is kept in the audit trail.
type Manual struct {
	Text      string
	Checklist []string
	Record    bool
}

// Check asserts something and fails the step when it does not hold: domain
// states, guest agents, a TCP port, a file's age, or a command's exit status.
type Check struct {
	Target  Target
	State   string
	Agent   bool
	TCP     string
	File    string
	MaxAge  time.Duration
	Command []string
	Shell   bool
	Timeout time.Duration
	// RecoveryPoint: with File, the file's modification time is the
	// recovery point the run records.
	RecoveryPoint bool
	// SHA256 (a digest, lowercase hex) or SHA256File (a checksum file in
	// sha256sum format): with File, the file's SHA-256 must be this one
	// (check_sha256.go). At most one is set.
	SHA256     string
	SHA256File string
}

// Probe names what the check looks at, for plans and logs.
func (c *Check) Probe() string {
	switch {
	case c.State != "":
		return "state " + c.State
	case c.Agent:
		return "guest agent answers"
	case c.TCP != "":
		return "tcp " + c.TCP
	case c.File != "" && c.MaxAge == 0:
		return "file " + c.File + " matches " + checksumText(c)
	case c.File != "" && (c.SHA256 != "" || c.SHA256File != ""):
		return "file " + c.File + " younger than " + c.MaxAge.String() + ", matching " + checksumText(c)
	case c.File != "":
		return "file " + c.File + " younger than " + c.MaxAge.String()
	case len(c.Command) > 0:
		return "command " + strings.Join(c.Command, " ")
	}
	return ""
}

// Shutdown stops domains gracefully, one at a time, in order, and waits until
// each is shut off; after Timeout it forces the domain off when Force is set.
type Shutdown struct {
	Target  Target
	Timeout time.Duration
	Force   bool
	// MaxParallel is how many domains shut down at once (default 1: one
	// at a time, in the order written).
	MaxParallel int
}

// Start starts domains group by group; the members of a group start
// together, at most MaxParallel at once (0: all). Wait says what "started"
// means: the domain runs, or its guest agent answers.
type Start struct {
	Site   string
	Groups [][]string
	// Listed: the domains were given as a list (domains:), each its own
	// group; with max_parallel they start that many at a time, in order.
	Listed      bool
	Glob        string
	All         bool
	MaxParallel int
	Wait        string
	Timeout     time.Duration
}

// Target returns the domains the start step names.
func (s *Start) Target() Target {
	t := Target{Site: s.Site, Glob: s.Glob, All: s.All}
	for _, g := range s.Groups {
		t.Domains = append(t.Domains, g...)
	}
	return t
}

// Define defines domains at a site, from XML files or by copying their
// definitions from another site.
type Define struct {
	Site     string
	XML      []string // files, relative to the runbook
	CopyFrom string
	Domains  []string // with CopyFrom: which domains
}

// SnapshotAction is what a snapshot step does.
type SnapshotAction string

// Snapshot actions.
const (
	SnapshotCreate SnapshotAction = "create"
	SnapshotRevert SnapshotAction = "revert"
	SnapshotDelete SnapshotAction = "delete"
)

// Snapshot creates, reverts to or deletes a named snapshot of domains.
type Snapshot struct {
	Target Target
	Name   string
	Action SnapshotAction
}

// Autostart turns domains' autostart on or off.
type Autostart struct {
	Target  Target
	Enabled bool
}

// Exec runs a local command: an argv list (a shell only with Shell). Its
// output is captured into the audit trail, capped, with secrets redacted.
type Exec struct {
	Command []string
	Shell   bool
	Timeout time.Duration
	Env     map[string]string
	// SecretEnv maps environment variables to files whose content is passed
	// in them: the content is never stored, logged or shown.
	SecretEnv map[string]string
	Dir       string
	Redact    []string
	// Site is the site the command concerns, if any: in disaster mode a
	// command concerning the lost primary site is skipped.
	Site string
	// RecoveryPoint "stdout": the command prints the recovery point, an
	// RFC 3339 time, on its last line.
	RecoveryPoint string
}

// Wait pauses for a fixed duration, or until a check passes.
type Wait struct {
	Duration time.Duration
	Until    *Check
	Timeout  time.Duration
}

// Default timeouts when a runbook gives none.
const (
	DefaultShutdownTimeout = 5 * time.Minute
	DefaultStartTimeout    = 5 * time.Minute
	DefaultExecTimeout     = 10 * time.Minute
	DefaultWaitTimeout     = 30 * time.Minute
	DefaultCheckTimeout    = 30 * time.Second
)

// CheckStates are the domain states a check step may expect.
var CheckStates = []string{"running", "shutoff", "paused"}
