// Package report turns the evidence of one run into the document an auditor
// signs off: HTML (printable to PDF), Markdown and JSON, in English and
// French.
//
// The input is Doc, a plain struct in the order of the report's twelve
// sections. It holds facts only (times, durations, names, raw text); wording,
// dates, durations, verdicts and escaping are the renderers' job. Every string
// in a Doc is treated as data from outside: control characters are made
// visible before any format but JSON, which escapes them itself.
package report

import "time"

// Doc is everything the report says about one run, section by section.
type Doc struct {
	// GeneratedAt is when the report was produced (shown in the footer).
	GeneratedAt    time.Time      `json:"generated_at"`
	Identification Identification `json:"identification"`  // 1
	People         People         `json:"people"`          // 2
	Readiness      Inventory      `json:"readiness"`       // 3: both sites at start
	Accepted       []Acceptance   `json:"accepted"`        // 3: warnings accepted, blockers overridden
	Timeline       []Step         `json:"timeline"`        // 4
	Gates          []Gate         `json:"gates"`           // 5
	Objectives     Objectives     `json:"objectives"`      // 6
	Validation     []Check        `json:"validation"`      // 7
	Deviations     []Deviation    `json:"deviations"`      // 8
	FinalState     Inventory      `json:"final_state"`     // 9
	Findings       []Finding      `json:"findings"`        // 10
	Restores       []Restore      `json:"hybrid_restores"` // 11
	Integrity      Integrity      `json:"integrity"`       // 12
}

// Identification is section 1: which run of which runbook, how, where, and
// what it aimed at.
type Identification struct {
	RunID          int64  `json:"run_id"`
	Runbook        string `json:"runbook"`
	Title          string `json:"title,omitempty"`
	RunbookVersion string `json:"runbook_version,omitempty"`
	RunbookFile    string `json:"runbook_file,omitempty"`
	RunbookSHA256  string `json:"runbook_sha256"`
	RepliVersion   string `json:"repli_version"`
	// Plan is "PRA" (disaster recovery) or "PCA" (business continuity).
	Plan string `json:"plan,omitempty"`
	// Mode is the runbook's mode as recorded (switchover, failover, test…).
	Mode      string    `json:"mode"`
	Simulated bool      `json:"simulated"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended,omitzero"`
	// Outcome is the run's end: succeeded, failed, aborted, interrupted, running.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Console is where the run was driven from.
	ConsoleHost string `json:"console_host,omitempty"`
	SSHClient   string `json:"ssh_client,omitempty"`
	Sites       []Site `json:"sites"`
	// Hosts and Domains are the run's scope: hypervisors and guests touched.
	Hosts     []string      `json:"hosts"`
	Domains   []string      `json:"domains"`
	RTOTarget time.Duration `json:"rto_target_ns"`
	RPOTarget time.Duration `json:"rpo_target_ns"`
}

// Site is one of the two sites of the run.
type Site struct {
	Name string `json:"name"`
	// Role is "primary" or "secondary" (as planned, before the run).
	Role      string `json:"role,omitempty"`
	URI       string `json:"uri,omitempty"`
	Simulated bool   `json:"simulated"`
}

// People is section 2.
type People struct {
	Operator  Person     `json:"operator"`
	Approvers []Approver `json:"approvers"`
	Observers []Person   `json:"observers"`
}

// Person is someone named in the report.
type Person struct {
	Name string `json:"name"`
	// Role is free text: "RSSI", "DSI adjoint", "auditor"…
	Role string `json:"role,omitempty"`
	Host string `json:"host,omitempty"`
	// SSHClient is the address the person connected from, if known.
	SSHClient string `json:"ssh_client,omitempty"`
}

// Approver is one approval given at a gate.
type Approver struct {
	Name string    `json:"name"`
	Role string    `json:"role,omitempty"`
	Step string    `json:"step"`
	At   time.Time `json:"at"`
	// Signed says the approval carries an SSH signature; Key is the signing
	// key's fingerprint (SHA256:…), never the key.
	Signed bool   `json:"signed"`
	Key    string `json:"key,omitempty"`
}

// Inventory is both sites at one moment: readiness at start (section 3) or
// the final state (section 9).
type Inventory struct {
	At    time.Time       `json:"at,omitzero"`
	Sites []SiteInventory `json:"sites"`
}

// SiteInventory is one site as seen at one moment.
type SiteInventory struct {
	Site      string `json:"site"`
	Role      string `json:"role,omitempty"`
	Reachable bool   `json:"reachable"`
	// Error is why the site could not be read, when it could not.
	Error   string        `json:"error,omitempty"`
	Domains []DomainState `json:"domains"`
}

// DomainState is one guest as seen on one site.
type DomainState struct {
	Name  string `json:"name"`
	Host  string `json:"host,omitempty"`
	State string `json:"state"`
	// Detail is what else was seen: autostart, replication lag, disk…
	Detail string `json:"detail,omitempty"`
}

// Acceptance is a readiness warning accepted, or a blocker overridden, before
// the run: by whom, when and why.
type Acceptance struct {
	// Severity is "warning" or "blocker".
	Severity string    `json:"severity"`
	Check    string    `json:"check"`
	Message  string    `json:"message"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
}

// Step is one row of the timeline (section 4). Steps are listed in planned
// order; a step that never started has zero Started and Ended.
type Step struct {
	Order int    `json:"order"`
	ID    string `json:"id"`
	Title string `json:"title,omitempty"`
	Kind  string `json:"kind"`
	Site  string `json:"site,omitempty"`
	Host  string `json:"host,omitempty"`
	// Targets are the domains (or other objects) the step acts on.
	Targets []string `json:"targets"`
	// Action is the exact action: verb and arguments, or the command run.
	Action   string        `json:"action"`
	Started  time.Time     `json:"started,omitzero"`
	Ended    time.Time     `json:"ended,omitzero"`
	Duration time.Duration `json:"duration_ns"`
	// Result is succeeded, failed, skipped, not_executed, running or aborted.
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
	// Retries counts attempts after the first.
	Retries int `json:"retries"`
	// ForcedShutdowns lists the domains destroyed after a graceful shutdown
	// did not finish in time.
	ForcedShutdowns []string `json:"forced_shutdowns"`
	// RTOStart and RTOStop mark the steps that start and stop the RTO clock.
	RTOStart bool `json:"rto_start,omitempty"`
	RTOStop  bool `json:"rto_stop,omitempty"`
}

// Gate is one operator gate (section 5): the prompt and every decision.
type Gate struct {
	Step string `json:"step"`
	// Kind is confirm, typed, checklist, approval or after_failure.
	Kind   string    `json:"kind"`
	Prompt string    `json:"prompt"`
	Opened time.Time `json:"opened"`
	Closed time.Time `json:"closed,omitzero"`
	// Wait is how long the run waited at the gate.
	Wait time.Duration `json:"wait_ns"`
	// Required is how many different people had to approve.
	Required  int        `json:"required"`
	Decisions []Decision `json:"decisions"`
	// Checklist is what was ticked, in order.
	Checklist []Tick `json:"checklist,omitempty"`
}

// Decision is one person's answer at a gate.
type Decision struct {
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Approved bool      `json:"approved"`
	// Typed is exactly what the person typed, if the gate asked for text.
	Typed string `json:"typed,omitempty"`
	// Choice is the answer after a failure: retry, skip or abort.
	Choice string `json:"choice,omitempty"`
	Signed bool   `json:"signed"`
}

// Tick is one checklist item ticked at a gate.
type Tick struct {
	Item string    `json:"item"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
}

// Objectives is section 6: RTO (DMIA) and RPO (PDMA) measured against target.
type Objectives struct {
	RTO Measure `json:"rto"`
	RPO Measure `json:"rpo"`
}

// Measure is one objective. For the RTO, From and To are when the clock
// started and stopped (FromStep, ToStep the steps that did). For the RPO,
// From is the last recovery point and To the moment of cut-over: Achieved is
// the data that would be lost.
type Measure struct {
	Target   time.Duration `json:"target_ns"`
	Achieved time.Duration `json:"achieved_ns"`
	// Measured is false when the run did not measure it (then there is no
	// verdict, which is not a pass).
	Measured bool      `json:"measured"`
	From     time.Time `json:"from,omitzero"`
	To       time.Time `json:"to,omitzero"`
	FromStep string    `json:"from_step,omitempty"`
	ToStep   string    `json:"to_step,omitempty"`
	// Basis says how it was measured, in the operator's words.
	Basis string `json:"basis,omitempty"`
}

// Verdict is "pass", "fail" or "not_measured". With no target, a measure
// cannot pass.
func (m Measure) Verdict() string {
	switch {
	case !m.Measured:
		return "not_measured"
	case m.Target > 0 && m.Achieved <= m.Target:
		return "pass"
	default:
		return "fail"
	}
}

// Check is one piece of validation evidence (section 7).
type Check struct {
	Step    string    `json:"step"`
	Name    string    `json:"name"`
	At      time.Time `json:"at"`
	Site    string    `json:"site,omitempty"`
	Host    string    `json:"host,omitempty"`
	Command string    `json:"command,omitempty"`
	// ExitCode is the command's exit status, -1 when there was none.
	ExitCode int  `json:"exit_code"`
	OK       bool `json:"ok"`
	// Output is the captured output, as is (multi-line).
	Output string `json:"output,omitempty" report:"multiline"`
}

// Deviation is something that did not go as planned (section 8).
type Deviation struct {
	// Kind is error, retry, skipped, not_executed, forced_shutdown, in_doubt
	// or override.
	Kind   string    `json:"kind"`
	Step   string    `json:"step,omitempty"`
	At     time.Time `json:"at,omitzero"`
	By     string    `json:"by,omitempty"`
	Detail string    `json:"detail"`
}

// Finding is an observation tagged as a finding, with its corrective action
// (section 10).
type Finding struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Step   string    `json:"step,omitempty"`
	Text   string    `json:"text"`
	Action string    `json:"action,omitempty"`
	Owner  string    `json:"owner,omitempty"`
	Due    time.Time `json:"due,omitzero"`
	// AfterRun is true for a finding recorded after the run ended.
	AfterRun bool `json:"after_run"`
}

// Restore is one restore from an encrypted backup (section 11). The key
// itself never appears: only who used it, when, and its fingerprint.
type Restore struct {
	// Step is the step the key was handed to (the decryption); Result its
	// result (succeeded, failed…).
	Step   string `json:"step"`
	Result string `json:"result,omitempty"`
	// Domain is the guest restored, when the restore is a guest's; empty
	// for a database restored outside any guest.
	Domain string `json:"domain"`
	// BackupID names the backup: its file, as the check that recorded its
	// recovery point read it. TakenAt is that recovery point (zero when
	// none was recorded).
	BackupID string    `json:"backup_id"`
	TakenAt  time.Time `json:"taken_at,omitzero"`
	// Age is how old the backup was when restored.
	Age time.Duration `json:"age_ns"`
	// SHA256 is the backup's checksum a step stated; Verified that the
	// step (ChecksumStep) succeeded: the backup matched it.
	SHA256       string    `json:"sha256"`
	Verified     bool      `json:"checksum_verified"`
	ChecksumStep string    `json:"checksum_step,omitempty"`
	KeyUsedBy    string    `json:"key_used_by"`
	KeyUsedAt    time.Time `json:"key_used_at"`
	KeyID        string    `json:"key_id,omitempty"`
	// KeySource is where the key was read from: the environment variable
	// the command read, and the file or --secret-var it came from.
	KeySource string `json:"key_source,omitempty"`
}

// Integrity is section 12: how the reader can trust the rest.
type Integrity struct {
	// Events is how many events the run has, FirstSeq..LastSeq.
	Events    int    `json:"events"`
	FirstSeq  int64  `json:"first_seq"`
	LastSeq   int64  `json:"last_seq"`
	ChainHead string `json:"chain_head"`
	// Verified is the result of verifying the run's events and their link to
	// the chain; VerifyDetail says what failed when it did not.
	Verified     bool      `json:"verified"`
	VerifyDetail string    `json:"verify_detail,omitempty"`
	VerifiedAt   time.Time `json:"verified_at"`
	// AuditFile is the audit trail's file name, for the commands shown.
	AuditFile  string      `json:"audit_file,omitempty"`
	Signatures []Signature `json:"signatures"`
}

// Signature is one SSH signature over a message (the chain head, an
// approval). With Message, Armored and AllowedSigners anyone can re-verify it
// with `ssh-keygen -Y verify` alone.
type Signature struct {
	// What names what is signed: "chain head", "approval of step X"…
	What      string    `json:"what"`
	Signer    string    `json:"signer"`
	Principal string    `json:"principal"`
	Namespace string    `json:"namespace"`
	Key       string    `json:"key"`
	At        time.Time `json:"at,omitzero"`
	Valid     bool      `json:"valid"`
	// Message is the exact signed text, without a trailing newline.
	Message string `json:"message"`
	// Armored is the "-----BEGIN SSH SIGNATURE-----" block.
	Armored string `json:"armored" report:"multiline"`
	// AllowedSigners is the allowed_signers line for the signer's key.
	AllowedSigners string `json:"allowed_signers"`
}
