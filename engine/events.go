package engine

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// Meta is what every event carries: the run it belongs to, its sequence
// number within the run (from 1, no gaps) and when it happened.
type Meta struct {
	RunID int64     `json:"-"`
	Seq   int64     `json:"-"`
	At    time.Time `json:"-"`
}

// Event is something that happened in a run. Every event is journaled before
// it is published, so what a consumer sees is already on disk.
type Event interface {
	EventMeta() *Meta
	Kind() string
}

// EventMeta returns the event's header.
func (m *Meta) EventMeta() *Meta { return m }

// RunStarted opens a run.
type RunStarted struct {
	Meta
	Runbook     string            `json:"runbook"`
	Title       string            `json:"title,omitempty"`
	File        string            `json:"file"`
	SHA256      string            `json:"sha256"`
	Source      string            `json:"source"`
	Mode        string            `json:"mode"`
	Operator    string            `json:"operator"`
	Host        string            `json:"host,omitempty"`
	SSHClient   string            `json:"ssh_client,omitempty"`
	Version     string            `json:"repli_version"`
	AutoApprove bool              `json:"auto_approve,omitempty"`
	Sites       map[string]string `json:"sites"`
	Vars        map[string]string `json:"vars,omitempty"`
	// SecretVars are the vars given with --secret-var: name → the file the
	// value is read from (never the value), so a resume reads it again.
	SecretVars map[string]string `json:"secret_vars,omitempty"`
	RTOTarget  time.Duration     `json:"rto_target_ns,omitempty"`
	TimeScale  float64           `json:"time_scale,omitempty"`
	// ReverseOf and ReverseOfSHA256 name the forward runbook when this one
	// is its way back (written by repli reverse): they link the run to the
	// forward runs, which recorded the same name and SHA-256.
	ReverseOf       string `json:"reverse_of,omitempty"`
	ReverseOfSHA256 string `json:"reverse_of_sha256,omitempty"`
}

// StepChanged records a step's move to a new state.
type StepChanged struct {
	Meta
	Step   string    `json:"step"`
	State  StepState `json:"state"`
	Reason string    `json:"reason,omitempty"`
}

// GateForm is what a gate asks of the operator. The values are stored.
type GateForm string

// Gate forms.
const (
	// FormConfirm: y proceeds, anything else refuses.
	FormConfirm GateForm = "confirm"
	// FormTyped: the operator types the expected word (a site's name).
	FormTyped GateForm = "typed"
	// FormChecklist: a manual step whose items are ticked one by one.
	FormChecklist GateForm = "checklist"
	// FormManual: a manual step with no checklist: done when the operator
	// says so.
	FormManual GateForm = "manual"
)

// GateOpened says a step waits for the operator.
type GateOpened struct {
	Meta
	Step string `json:"step"`
	// Form is what the gate asks; Gate the runbook's gate setting.
	Form   GateForm `json:"form,omitempty"`
	Gate   string   `json:"gate"`
	Prompt string   `json:"prompt"`
	// Targets are the domains the step acts on, resolved at the gate: what
	// the operator approves is this list, and the step acts on it only.
	Targets   []string `json:"targets,omitempty"`
	Expect    string   `json:"expect,omitempty"`
	Checklist []string `json:"checklist,omitempty"`
	// Record asks the operator for a free-text answer, kept in the trail.
	Record bool `json:"record,omitempty"`
	// Approvers is how many different operators must approve; Approved
	// lists those who already have (on resume).
	Approvers int      `json:"approvers,omitempty"`
	Approved  []string `json:"approved,omitempty"`
}

// FormOf is the gate's form, for events recorded before the form was (a
// typed gate has an expected word; a manual step has a checklist or no gate).
func (g *GateOpened) FormOf() GateForm {
	switch {
	case g.Form != "":
		return g.Form
	case g.Expect != "":
		return FormTyped
	case len(g.Checklist) > 0:
		return FormChecklist
	case g.Gate == "none" || g.Gate == "":
		return FormManual
	}
	return FormConfirm
}

// ChecklistTicked records an operator ticking one item of a manual step.
type ChecklistTicked struct {
	Meta
	Step     string `json:"step"`
	Item     int    `json:"item"`
	Text     string `json:"text"`
	Operator string `json:"operator"`
}

// GateDecided records the operator's answer at a gate.
type GateDecided struct {
	Meta
	Step     string        `json:"step"`
	Approved bool          `json:"approved"`
	Operator string        `json:"operator"`
	Typed    string        `json:"typed,omitempty"`
	Waited   time.Duration `json:"waited_ns"`
	// Approvals counts the different operators who approved so far, of
	// Needed; the gate opens when they are equal.
	Approvals int `json:"approvals,omitempty"`
	Needed    int `json:"needed,omitempty"`
}

// Complete reports whether this decision closes the gate: a refusal, or the
// last approval needed.
func (d *GateDecided) Complete() bool { return !d.Approved || d.Approvals >= d.Needed }

// ActionIntent is written before an action touches a hypervisor. An intent
// with no outcome is in doubt when the run is resumed.
type ActionIntent struct {
	Meta
	Action int64  `json:"action"`
	Step   string `json:"step"`
	Site   string `json:"site"`
	URI    string `json:"uri"`
	Domain string `json:"domain"`
	Verb   string `json:"verb"`
	// Detail says more about the action: the command an exec runs, for
	// people (engine.CommandString).
	Detail string `json:"detail,omitempty"`
	// Argv is the exact argument list an exec runs: its own list, or
	// /bin/sh -c LINE for a shell line.
	Argv []string `json:"argv,omitempty"`
	// Volume is the storage volume a copy writes (pool/name, at Site);
	// Bytes how many bytes it expects to copy.
	Volume string `json:"volume,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
}

// ActionOutcome is written after an action, with how long it took.
type ActionOutcome struct {
	Meta
	Action   int64         `json:"action"`
	Step     string        `json:"step"`
	Site     string        `json:"site"`
	Domain   string        `json:"domain"`
	Verb     string        `json:"verb"`
	OK       bool          `json:"ok"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// URI is the host the action ran on, when the site has several.
	URI string `json:"uri,omitempty"`
	// Verdict is set when the action's answer was lost and its state read
	// again: VerdictDoneAfterAll or VerdictInDoubt (see Verdict).
	Verdict string `json:"verdict,omitempty"`
}

// Logged is a line of progress worth keeping: what was checked, what was seen.
type Logged struct {
	Meta
	Step    string `json:"step,omitempty"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

// NoteAdded is a free-text note the operator wrote during the run.
type NoteAdded struct {
	Meta
	Operator string `json:"operator"`
	Text     string `json:"text"`
}

// RTOStarted starts the recovery clock.
type RTOStarted struct {
	Meta
	Step string `json:"step"`
}

// RTOStopped stops the recovery clock.
type RTOStopped struct {
	Meta
	Step     string        `json:"step"`
	Achieved time.Duration `json:"achieved_ns"`
	Target   time.Duration `json:"target_ns,omitempty"`
}

// RunEnded closes a run.
type RunEnded struct {
	Meta
	Outcome     Outcome       `json:"outcome"`
	Reason      string        `json:"reason,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
	RTOAchieved time.Duration `json:"rto_achieved_ns,omitempty"`
	RTOTarget   time.Duration `json:"rto_target_ns,omitempty"`
	// RPOAchieved is the RPO measured (Progress.RPOAchieved), nil when the
	// run recorded no recovery point; RPOTarget is the runbook's rpo.
	RPOAchieved *time.Duration `json:"rpo_achieved_ns,omitempty"`
	RPOTarget   time.Duration  `json:"rpo_target_ns,omitempty"`
}

// Kind names, as stored in the journal. Never rename one: stored runs use them.
func (*RunStarted) Kind() string      { return "run.started" }
func (*StepChanged) Kind() string     { return "step.changed" }
func (*GateOpened) Kind() string      { return "gate.opened" }
func (*ChecklistTicked) Kind() string { return "checklist.ticked" }
func (*GateDecided) Kind() string     { return "gate.decided" }
func (*ActionIntent) Kind() string    { return "action.intent" }
func (*ActionOutcome) Kind() string   { return "action.outcome" }
func (*Logged) Kind() string          { return "log" }
func (*NoteAdded) Kind() string       { return "note" }
func (*RTOStarted) Kind() string      { return "rto.started" }
func (*RTOStopped) Kind() string      { return "rto.stopped" }
func (*RunEnded) Kind() string        { return "run.ended" }

var eventTypes = map[string]func() Event{
	"run.started":      func() Event { return &RunStarted{} },
	"step.changed":     func() Event { return &StepChanged{} },
	"gate.opened":      func() Event { return &GateOpened{} },
	"checklist.ticked": func() Event { return &ChecklistTicked{} },
	"gate.decided":     func() Event { return &GateDecided{} },
	"action.intent":    func() Event { return &ActionIntent{} },
	"action.outcome":   func() Event { return &ActionOutcome{} },
	"log":              func() Event { return &Logged{} },
	"note":             func() Event { return &NoteAdded{} },
	"rto.started":      func() Event { return &RTOStarted{} },
	"rto.stopped":      func() Event { return &RTOStopped{} },
	"run.ended":        func() Event { return &RunEnded{} },
}

// EncodeEvent returns the canonical JSON body of an event (without its Meta,
// which the journal stores in columns of its own).
func EncodeEvent(ev Event) ([]byte, error) {
	return json.Marshal(ev)
}

// DecodeEvent rebuilds an event from its kind and body, as stored.
func DecodeEvent(kind string, body []byte, m Meta) (Event, error) {
	mk, ok := eventTypes[kind]
	if !ok {
		return nil, fmt.Errorf("unknown event kind %q (written by a newer repli?)", kind)
	}
	ev := mk()
	if err := json.Unmarshal(body, ev); err != nil {
		return nil, fmt.Errorf("decode %s event: %w", kind, err)
	}
	*ev.EventMeta() = m
	return ev, nil
}

// RedactURI removes a password from a URI's user part, so that what is
// recorded and shown never holds one: qemu+tls://ops:s3cret@kvm1/system
// becomes qemu+tls://ops:xxxxx@kvm1/system.
func RedactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	if _, has := u.User.Password(); !has {
		return uri
	}
	u.User = url.UserPassword(u.User.Username(), "xxxxx")
	return u.String()
}
