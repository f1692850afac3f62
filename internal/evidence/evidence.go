// Package evidence maps one run, as the audit trail holds it, onto the
// report's document (report.Doc): the run's projection (engine.Progress),
// the runbook recorded with it (step order, titles, kinds, targets, the
// steps that never ran, the RTO and RPO targets), the run's own
// verification (store.VerifyRun) and its signatures.
//
// Everything comes from chained events. Where the projection keeps no
// record of something the report must show (the preflight lines, every
// opening of a gate with its prompt, the ticks of a checklist), the run's
// events are read for it; no state is derived from them.
package evidence

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/report"
	"github.com/repli-dr/repli/internal/textfmt"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
)

// Options tune FromRun.
type Options struct {
	// Now is when the report is made (GeneratedAt); zero is time.Now.
	Now time.Time
	// RepliVersion is the version of the repli making the report, used when
	// the run did not record the one that drove it.
	RepliVersion string
	// CheckSignatures verifies each signature with ssh-keygen -Y
	// check-novalidate (one process per signature).
	CheckSignatures bool
}

// Run is a run's evidence: the document, and what the commands that show
// it need besides.
type Run struct {
	Doc      *report.Doc
	Progress *engine.Progress
	// Runbook is nil when the runbook recorded with the run no longer
	// parses with this repli (RunbookErr says why); the steps are then
	// those the run reached, in the order it reached them.
	Runbook    *runbooks.Runbook
	RunbookErr error
	Standing   store.Standing
	Verify     store.RunVerification
	// Anchor is the run's last event, EVENT_ID:HASH, as repli verify
	// --anchor takes it.
	Anchor string
}

// FromRun builds the report of one run.
func FromRun(ctx context.Context, st *store.Store, runID int64, opts Options) (*report.Doc, error) {
	r, err := Load(ctx, st, runID, opts)
	if err != nil {
		return nil, err
	}
	return r.Doc, nil
}

// Load reads one run and builds its evidence.
func Load(ctx context.Context, st *store.Store, runID int64, opts Options) (*Run, error) {
	run, err := st.Run(ctx, runID)
	if err != nil {
		return nil, err
	}
	events, err := st.Events(ctx, runID)
	if err != nil {
		return nil, err
	}
	p, err := engine.ProgressOf(events)
	if err != nil {
		return nil, fmt.Errorf("read run %d: %w", runID, err)
	}
	out := &Run{Progress: p}
	out.Runbook, out.RunbookErr = p.Runbook()
	if run.EndedAt == nil {
		stands, err := st.Standings(ctx)
		if err != nil {
			return nil, err
		}
		out.Standing = stands[runID]
	}
	out.Verify, err = st.VerifyRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	out.Anchor = fmt.Sprintf("%d:%s", out.Verify.LastID, out.Verify.LastHash)
	sigs, err := st.Signatures(ctx, runID)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	m := &mapper{run: run, p: p, rb: out.Runbook, events: events, standing: out.Standing, sigs: sigs, now: now.UTC(), opts: opts}
	doc := m.doc()
	doc.Integrity = m.integrity(ctx, st, out.Verify)
	out.Doc = doc
	return out, nil
}

type mapper struct {
	run      store.Run
	p        *engine.Progress
	rb       *runbooks.Runbook
	events   []engine.Event
	standing store.Standing
	sigs     []*store.Signature
	now      time.Time
	opts     Options
}

func (m *mapper) doc() *report.Doc {
	d := &report.Doc{GeneratedAt: m.now}
	d.Identification = m.identification()
	d.People = m.people()
	d.Readiness, d.Accepted = m.readiness()
	d.Timeline = m.timeline()
	d.Gates = m.gates()
	d.Objectives = m.objectives()
	d.Validation = m.validation()
	d.Deviations = m.deviations(d.Timeline, d.Accepted)
	d.FinalState = m.finalState()
	d.Findings = m.findings()
	d.Restores = m.restores(d.Timeline)
	return d
}

// Outcome is the run's end as the report words it: succeeded, failed,
// aborted, or, for a run that has not ended, interrupted (its console is
// gone) or running.
func Outcome(run store.Run, standing store.Standing) string {
	switch {
	case run.EndedAt != nil:
		return string(run.Outcome)
	case standing.Interrupted:
		return "interrupted"
	}
	return "running"
}

// Simulated reports whether every site of a run is simulated (sim://).
func Simulated(sites map[string]string) bool {
	return store.StartFacts{Sites: sites}.Simulated()
}

func (m *mapper) identification() report.Identification {
	e := m.p.Started
	id := report.Identification{
		RunID: m.run.ID, Runbook: e.Runbook, Title: e.Title, RunbookFile: e.File, RunbookSHA256: e.SHA256,
		RepliVersion: e.Version, Plan: "PRA", Mode: e.Mode, Simulated: Simulated(e.Sites),
		Started: m.run.StartedAt, Outcome: Outcome(m.run, m.standing), Reason: m.run.Reason,
		ConsoleHost: e.Host, SSHClient: clientAddr(e.SSHClient), RTOTarget: e.RTOTarget,
		Sites: []report.Site{}, Hosts: []string{}, Domains: []string{},
	}
	if id.RepliVersion == "" {
		id.RepliVersion = m.opts.RepliVersion
	}
	if m.run.EndedAt != nil {
		id.Ended = *m.run.EndedAt
	}
	if id.Outcome == "interrupted" && id.Reason == "" {
		id.Reason = m.standing.Why
	}
	if m.rb != nil {
		if id.RTOTarget == 0 {
			id.RTOTarget = m.rb.RTO
		}
		id.RPOTarget = m.rb.RPO
		for _, s := range m.rb.Sites {
			uri := engine.RedactURI(e.Sites[s.Name])
			if uri == "" {
				uri = engine.RedactURI(s.URI)
			}
			id.Sites = append(id.Sites, report.Site{Name: s.Name, Role: string(s.Role), URI: uri, Simulated: strings.HasPrefix(uri, "sim://")})
		}
	} else {
		for _, n := range sortedKeys(e.Sites) {
			uri := engine.RedactURI(e.Sites[n])
			id.Sites = append(id.Sites, report.Site{Name: n, URI: uri, Simulated: strings.HasPrefix(uri, "sim://")})
		}
	}
	hosts, doms := set{}, set{}
	for _, u := range e.Sites {
		hosts.add(hostOf(u))
	}
	for _, a := range m.p.Actions {
		hosts.add(hostOf(a.Intent.URI))
		if a.Intent.Verb != "exec" || a.Intent.Domain != "" {
			doms.add(a.Intent.Domain)
		}
	}
	if m.rb != nil {
		for _, ds := range m.rb.Domains() {
			for _, d := range ds {
				doms.add(d)
			}
		}
	}
	id.Hosts, id.Domains = hosts.sorted(), doms.sorted()
	return id
}

// clientAddr is the address an SSH client connected from (the first field
// of SSH_CONNECTION).
func clientAddr(conn string) string {
	if f := strings.Fields(conn); len(f) > 0 {
		return f[0]
	}
	return ""
}

// hostOf is the host a libvirt URI reaches: "kvm-a" for
// qemu+ssh://ops@kvm-a/system, the lab's name for sim://primary.
func hostOf(uri string) string {
	if uri == "" {
		return ""
	}
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Hostname()
}

func (m *mapper) people() report.People {
	e := m.p.Started
	pp := report.People{
		Operator:  report.Person{Name: e.Operator, Host: e.Host, SSHClient: clientAddr(e.SSHClient)},
		Approvers: []report.Approver{}, Observers: []report.Person{},
	}
	signed := m.signedDecisions()
	for _, d := range m.p.Decisions {
		if !d.Approved || d.Choice != "" {
			continue
		}
		a := report.Approver{Name: d.Operator, Step: d.Step, At: d.At}
		if k, ok := signed[d.Seq]; ok {
			a.Signed, a.Key = true, k
		}
		pp.Approvers = append(pp.Approvers, a)
	}
	seen := map[string]bool{e.Operator + "\x00" + e.Host: true}
	for _, s := range m.p.Sessions {
		key := s.Operator + "\x00" + s.Host
		if seen[key] {
			continue
		}
		seen[key] = true
		pp.Observers = append(pp.Observers, report.Person{Name: s.Operator, Role: "console (" + s.How + ")", Host: s.Host, SSHClient: clientAddr(s.SSHClient)})
	}
	return pp
}

// signedDecisions maps the sequence number of each gate.decided carrying a
// signature to the signing key's fingerprint.
func (m *mapper) signedDecisions() map[int64]string {
	out := map[int64]string{}
	for _, s := range m.sigs {
		if s.SignedKind == "gate.decided" && s.Signature != "" {
			out[s.Seq] = s.Key
		}
	}
	return out
}

var (
	warnRe     = regexp.MustCompile(`^preflight warning: (.*)$`)
	blockerRe  = regexp.MustCompile(`^preflight BLOCKER overridden: (.*)$`)
	overrideRe = regexp.MustCompile(`^started although not ready, by (.*?): (.*)$`)
)

// readiness reads the preflight lines the console logged at the start of
// the run. The trail records what was found wrong, not a full inventory:
// the sites are listed with their planned domains, their state "not
// recorded" unless a line says a site was unreachable.
func (m *mapper) readiness() (report.Inventory, []report.Acceptance) {
	e := m.p.Started
	inv := report.Inventory{At: m.run.StartedAt, Sites: []report.SiteInventory{}}
	var acc []report.Acceptance
	by, reason := e.Operator, ""
	var at time.Time
	for _, ev := range m.events {
		l, ok := ev.(*engine.Logged)
		if !ok {
			continue
		}
		switch {
		case warnRe.MatchString(l.Message):
			acc = append(acc, report.Acceptance{Severity: "warning", Check: "preflight", Message: warnRe.FindStringSubmatch(l.Message)[1], At: l.At})
		case blockerRe.MatchString(l.Message):
			acc = append(acc, report.Acceptance{Severity: "blocker", Check: "preflight", Message: blockerRe.FindStringSubmatch(l.Message)[1], At: l.At})
		case overrideRe.MatchString(l.Message):
			sm := overrideRe.FindStringSubmatch(l.Message)
			by, reason, at = sm[1], sm[2], l.At
		}
	}
	for i := range acc {
		acc[i].By = by
		switch {
		case reason != "":
			acc[i].Reason = reason
			acc[i].At = at
		case e.AutoApprove:
			acc[i].Reason = "accepted by starting the run with --auto-approve"
		default:
			acc[i].Reason = "shown at the preflight check; the operator started the run"
		}
	}
	if acc == nil {
		acc = []report.Acceptance{}
	}
	var planned map[string][]string
	if m.rb != nil {
		planned = m.rb.Domains()
	}
	for _, s := range m.sites() {
		si := report.SiteInventory{Site: s.name, Role: s.role, Reachable: true, Domains: []report.DomainState{}}
		for _, a := range acc {
			if strings.Contains(a.Message, "site "+s.name+" is unreachable") {
				si.Reachable, si.Error = false, a.Message
			}
		}
		for _, d := range planned[s.name] {
			si.Domains = append(si.Domains, report.DomainState{Name: d, State: "not recorded"})
		}
		inv.Sites = append(inv.Sites, si)
	}
	return inv, acc
}

type siteRef struct{ name, role string }

func (m *mapper) sites() []siteRef {
	var out []siteRef
	if m.rb != nil {
		for _, s := range m.rb.Sites {
			out = append(out, siteRef{s.Name, string(s.Role)})
		}
		return out
	}
	for _, n := range sortedKeys(m.p.Started.Sites) {
		out = append(out, siteRef{n, ""})
	}
	return out
}

// stepDef is what the runbook says of a step, or what the run recorded
// when the runbook is not at hand.
type stepDef struct {
	id, title, kind, site string
	targets               []string
	action                string
	rto                   runbooks.RTOMark
	def                   *runbooks.Step
}

func (m *mapper) stepDefs() []stepDef {
	var out []stepDef
	if m.rb != nil {
		for _, s := range m.rb.Steps {
			d := stepDef{id: s.ID, title: s.Title, kind: string(s.Kind), rto: s.RTO, def: s, action: plannedAction(s)}
			if sites := s.Sites(); len(sites) > 0 {
				d.site = strings.Join(sites, ", ")
			}
			for _, t := range s.Targets() {
				if t.Dynamic() {
					d.targets = append(d.targets, t.String())
					continue
				}
				d.targets = append(d.targets, t.Domains...)
			}
			out = append(out, d)
		}
		return out
	}
	for _, id := range m.p.Order {
		out = append(out, stepDef{id: id, kind: "unknown"})
	}
	return out
}

// plannedAction says what a step does, from the runbook.
func plannedAction(s *runbooks.Step) string {
	targets := make([]string, 0, 2)
	for _, t := range s.Targets() {
		targets = append(targets, t.String())
	}
	on := strings.Join(targets, "; ")
	switch s.Kind {
	case runbooks.KindManual:
		if s.Manual != nil && len(s.Manual.Checklist) > 0 {
			return fmt.Sprintf("manual, checklist of %d: %s", len(s.Manual.Checklist), strings.Join(s.Manual.Checklist, "; "))
		}
		return "manual"
	case runbooks.KindExec:
		if s.Exec != nil {
			return "exec: " + engine.CommandString(s.Exec.Command, s.Exec.Shell)
		}
	case runbooks.KindShutdown:
		if s.Shutdown != nil {
			a := "shutdown " + on
			if s.Shutdown.Timeout > 0 {
				a += fmt.Sprintf(" (timeout %s", s.Shutdown.Timeout)
				if s.Shutdown.Force {
					a += ", then destroy"
				}
				a += ")"
			} else if s.Shutdown.Force {
				a += " (then destroy)"
			}
			return a
		}
	case runbooks.KindWait:
		if s.Wait != nil && s.Wait.Duration > 0 {
			return fmt.Sprintf("wait %s", s.Wait.Duration)
		}
	}
	if on != "" {
		return string(s.Kind) + " " + on
	}
	if s.Gate != "" && s.Gate != runbooks.GateNone {
		return "gate: " + string(s.Gate)
	}
	return string(s.Kind)
}

func (m *mapper) stepActions(step string) []*engine.ActionProgress {
	var out []*engine.ActionProgress
	for _, a := range m.p.Actions {
		if a.Intent.Step == step {
			out = append(out, a)
		}
	}
	return out
}

// ForcedShutdowns lists the domains a step destroyed after a shutdown of
// the same domain failed (a guest that ignored it, force: true).
func ForcedShutdowns(actions []*engine.ActionProgress) []string {
	failed := map[string]bool{}
	forced := set{}
	for _, a := range actions {
		key := a.Intent.Site + "/" + a.Intent.Domain
		switch a.Intent.Verb {
		case "shutdown":
			failed[key] = a.Result == engine.ActionFailed
		case "destroy":
			if failed[key] {
				forced.add(a.Intent.Domain)
			}
		}
	}
	return forced.sorted()
}

func (m *mapper) timeline() []report.Step {
	ended := m.p.Ended != nil
	out := []report.Step{}
	for i, def := range m.stepDefs() {
		s := report.Step{Order: i + 1, ID: def.id, Title: def.title, Kind: def.kind, Site: def.site, Targets: def.targets, Action: def.action}
		acts := m.stepActions(def.id)
		hosts := set{}
		var did []string
		for _, a := range acts {
			hosts.add(hostOf(a.Intent.URI))
			switch {
			case a.Intent.Verb == "exec":
				did = append(did, "exec: "+a.Intent.Detail)
			default:
				did = append(did, a.Intent.Verb+" "+a.Intent.Site+"/"+a.Intent.Domain)
			}
		}
		if len(did) > 0 {
			s.Action = strings.Join(dedupe(did), "; ")
		}
		s.Host = strings.Join(hosts.sorted(), ", ")
		if s.Targets == nil {
			s.Targets = []string{}
		}
		s.ForcedShutdowns = ForcedShutdowns(acts)
		s.RTOStart = def.rto == runbooks.RTOStart || m.p.RTOStartStep == def.id
		s.RTOStop = def.rto == runbooks.RTOStop || m.p.RTOStopStep == def.id
		sp, seen := m.p.Steps[def.id]
		if !seen {
			s.Result = "not_executed"
			s.Reason = m.notRunWhy(def)
			out = append(out, s)
			continue
		}
		s.Started, s.Ended = sp.Began, sp.Ended
		s.Duration = sp.Duration(sp.Ended)
		if sp.Ended.IsZero() && !sp.Began.IsZero() {
			s.Duration = sp.Duration(m.p.LastAt)
		}
		s.Retries = max(0, sp.Runs-1)
		s.Reason = sp.Reason
		switch sp.State {
		case engine.StepSucceeded, engine.StepFailed, engine.StepSkipped:
			s.Result = string(sp.State)
		case engine.StepPending:
			s.Result = "not_executed"
			if s.Reason == "" {
				s.Reason = m.notRunWhy(def)
			}
		default: // waiting or running
			if ended {
				s.Result = "aborted"
				if s.Reason == "" {
					s.Reason = "the run ended (" + string(m.p.Ended.Outcome) + ") while the step was " + string(sp.State)
				}
			} else {
				s.Result = "running"
				if m.standing.Interrupted {
					s.Reason = "interrupted while " + string(sp.State) + ": " + m.standing.Why
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// notRunWhy says why a step of the runbook never started.
func (m *mapper) notRunWhy(def stepDef) string {
	if def.def != nil && m.rb != nil {
		if ok, why := def.def.RunsIn(m.rb, m.p.Started.Mode); !ok {
			return "not in " + m.p.Started.Mode + " mode: " + why
		}
	}
	if m.p.Ended != nil {
		r := "the run ended (" + string(m.p.Ended.Outcome) + ") before this step"
		if m.p.Ended.Reason != "" {
			r += ": " + m.p.Ended.Reason
		}
		return r
	}
	if m.standing.Interrupted {
		return "not reached: the run was interrupted (" + m.standing.Why + ")"
	}
	return "not reached yet"
}

// gates lists every opening of a gate, from the trail, with the decisions
// the projection recorded for it (a gate opened again after a refusal or
// on resume is another row).
func (m *mapper) gates() []report.Gate {
	out := []report.Gate{}
	signed := m.signedDecisions()
	type open struct {
		idx int
		seq int64
	}
	var opens []open
	for _, ev := range m.events {
		switch e := ev.(type) {
		case *engine.GateOpened:
			g := report.Gate{Step: e.Step, Kind: gateKind(e), Prompt: e.Prompt, Opened: e.At, Required: max(1, e.Approvers), Decisions: []report.Decision{}}
			opens = append(opens, open{len(out), e.Seq})
			out = append(out, g)
		case *engine.FailureOpened:
			g := report.Gate{Step: e.Step, Kind: "after_failure", Prompt: e.Error, Opened: e.At, Required: 1, Decisions: []report.Decision{}}
			opens = append(opens, open{len(out), e.Seq})
			out = append(out, g)
		case *engine.ChecklistTicked:
			if i := lastOpen(out, e.Step, "after_failure", false); i >= 0 {
				out[i].Checklist = append(out[i].Checklist, report.Tick{Item: e.Text, By: e.Operator, At: e.At})
			}
		}
	}
	for _, d := range m.p.Decisions {
		failure := d.Choice != ""
		// The gate row is the last opening of the step's gate (or failure)
		// before the decision.
		best := -1
		for _, o := range opens {
			g := out[o.idx]
			if g.Step == d.Step && (g.Kind == "after_failure") == failure && o.seq < d.Seq {
				best = o.idx
			}
		}
		if best < 0 {
			continue
		}
		dec := report.Decision{By: d.Operator, At: d.At, Approved: d.Approved, Typed: d.Typed, Choice: string(d.Choice)}
		if _, ok := signed[d.Seq]; ok {
			dec.Signed = true
		}
		g := &out[best]
		g.Decisions = append(g.Decisions, dec)
		g.Closed = d.At
		g.Wait = d.At.Sub(g.Opened)
		if d.Waited > 0 && !failure {
			g.Wait = d.Waited
		}
	}
	return out
}

func lastOpen(gs []report.Gate, step, kind string, want bool) int {
	for i := len(gs) - 1; i >= 0; i-- {
		if gs[i].Step == step && (gs[i].Kind == kind) == want {
			return i
		}
	}
	return -1
}

func gateKind(e *engine.GateOpened) string {
	if e.Approvers > 1 {
		return "approval"
	}
	switch f := e.FormOf(); f {
	case engine.FormManual:
		return "checklist"
	default:
		return string(f)
	}
}

func (m *mapper) objectives() report.Objectives {
	e := m.p.Started
	o := report.Objectives{}
	o.RTO.Target = e.RTOTarget
	if o.RTO.Target == 0 && m.rb != nil {
		o.RTO.Target = m.rb.RTO
	}
	o.RPO = m.rpo()
	switch {
	case m.p.RTOStart.IsZero():
		o.RTO.Basis = "not measured: the run did not reach the step that starts the recovery clock (rto: start)"
	case m.p.RTOStop.IsZero():
		o.RTO.From, o.RTO.FromStep = m.p.RTOStart, m.p.RTOStartStep
		o.RTO.Basis = fmt.Sprintf("not reached: the clock started at step %s and the run did not reach the step that stops it (rto: stop); service was not shown restored", m.p.RTOStartStep)
	default:
		o.RTO.Measured = true
		o.RTO.From, o.RTO.FromStep = m.p.RTOStart, m.p.RTOStartStep
		o.RTO.To, o.RTO.ToStep = m.p.RTOStop, m.p.RTOStopStep
		o.RTO.Achieved, _ = m.p.RTO(m.p.RTOStop)
		o.RTO.Basis = fmt.Sprintf("from the start of step %s to the end of step %s, as the engine's clock recorded them", m.p.RTOStartStep, m.p.RTOStopStep)
	}
	return o
}

// rpo is the RPO measure of the run, from its projection (Progress.RPO):
// from the oldest recovery point recorded to the start of the outage.
func (m *mapper) rpo() report.Measure {
	rs := m.p.RPO(m.rb)
	out := report.Measure{Target: m.p.RPOTarget(m.rb)}
	if !rs.Measured {
		out.Basis = "not measured: the run recorded no recovery point (check: {file, recovery_point: true}, exec: {recovery_point: stdout}, or a copy step)"
		return out
	}
	out.Measured, out.Achieved = true, rs.Achieved
	out.From, out.FromStep = rs.Point, rs.Step
	out.To, out.ToStep = rs.Outage, rs.OutageStep
	until := "the start of the run"
	if rs.OutageStep != "" {
		until = "the start of step " + rs.OutageStep + ", where the recovery clock started"
	}
	out.Basis = fmt.Sprintf("from the recovery point recorded at step %s (%s) to %s; the oldest recovery point of the run counts", rs.Step, rs.Source, until)
	return out
}

var exitRe = regexp.MustCompile(`exit (?:status|code) (\d+)`)

func (m *mapper) validation() []report.Check {
	out := []report.Check{}
	kinds := map[string]string{}
	titles := map[string]string{}
	for _, d := range m.stepDefs() {
		kinds[d.id], titles[d.id] = d.kind, d.title
	}
	output := map[string][]string{}
	for _, o := range m.p.Output {
		output[o.Step] = append(output[o.Step], o.Text)
	}
	logged := map[string][]string{}
	for _, ev := range m.events {
		if l, ok := ev.(*engine.Logged); ok && l.Step != "" && kinds[l.Step] == "check" {
			logged[l.Step] = append(logged[l.Step], l.Message)
		}
	}
	done := map[string]bool{}
	for _, a := range m.p.Actions {
		in := a.Intent
		if in.Verb != "exec" {
			continue
		}
		c := report.Check{Step: in.Step, Name: nameOf(in.Step, titles), At: a.At, Site: in.Site, Host: hostOf(in.URI), Command: in.Detail,
			ExitCode: -1, OK: a.Result == engine.ActionOK || a.Result == engine.ActionFoundDone}
		if a.Result == engine.ActionOK {
			c.ExitCode = 0
		}
		if sm := exitRe.FindStringSubmatch(a.Error); sm != nil {
			c.ExitCode, _ = strconv.Atoi(sm[1])
		}
		if !done[in.Step] {
			c.Output = strings.Join(output[in.Step], "")
			done[in.Step] = true
		}
		if a.Error != "" && c.Output == "" {
			c.Output = a.Error
		}
		out = append(out, c)
	}
	for _, d := range m.stepDefs() {
		sp, ok := m.p.Steps[d.id]
		if d.kind != "check" || !ok || done[d.id] {
			continue
		}
		c := report.Check{Step: d.id, Name: nameOf(d.id, titles), At: sp.Began, Site: d.site, Command: d.action, ExitCode: -1,
			OK: sp.State == engine.StepSucceeded, Output: strings.Join(logged[d.id], "\n")}
		if sp.Reason != "" {
			c.Output = strings.TrimSpace(c.Output + "\n" + sp.Reason)
		}
		out = append(out, c)
	}
	for _, n := range m.p.Notes {
		if isFinding(n.Text) {
			continue
		}
		out = append(out, report.Check{Name: "note by " + n.Operator, At: n.At, ExitCode: -1, OK: true, Output: n.Text})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

func nameOf(step string, titles map[string]string) string {
	if t := titles[step]; t != "" {
		return t
	}
	return step
}

func (m *mapper) deviations(timeline []report.Step, acc []report.Acceptance) []report.Deviation {
	out := []report.Deviation{}
	for _, a := range acc {
		if a.Severity == "blocker" {
			out = append(out, report.Deviation{Kind: "override", At: a.At, By: a.By, Detail: a.Message + " — " + a.Reason})
		}
	}
	for _, a := range m.p.Actions {
		in := a.Intent
		target := in.Site + "/" + in.Domain
		if in.Verb == "exec" {
			target = in.Detail
		}
		switch a.Result {
		case engine.ActionFailed:
			out = append(out, report.Deviation{Kind: "error", Step: in.Step, At: a.At, Detail: fmt.Sprintf("%s %s failed: %s", in.Verb, target, a.Error)})
		case engine.ActionInDoubt, engine.ActionFoundDone, engine.ActionFoundNotDone, engine.ActionDecided:
			out = append(out, report.Deviation{Kind: "in_doubt", Step: in.Step, At: a.At, Detail: fmt.Sprintf("%s %s: %s %s", in.Verb, target, a.Result, a.Error)})
		}
	}
	for _, d := range m.p.Decisions {
		if d.Choice != "" {
			out = append(out, report.Deviation{Kind: "error", Step: d.Step, At: d.At, By: d.Operator, Detail: "after the step failed, the operator chose " + string(d.Choice)})
		}
	}
	for _, s := range timeline {
		if s.Retries > 0 {
			out = append(out, report.Deviation{Kind: "retry", Step: s.ID, At: s.Started, Detail: fmt.Sprintf("%d attempt(s) after the first", s.Retries)})
		}
		for _, d := range s.ForcedShutdowns {
			out = append(out, report.Deviation{Kind: "forced_shutdown", Step: s.ID, At: s.Started, Detail: d + " did not shut down in time and was destroyed (force: true)"})
		}
		switch s.Result {
		case "skipped", "not_executed", "aborted", "failed":
			kind := s.Result
			if kind == "aborted" || kind == "failed" {
				kind = "error"
			}
			out = append(out, report.Deviation{Kind: kind, Step: s.ID, At: s.Ended, Detail: textfmt.OrDash(s.Reason)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].At, out[j].At
		if a.IsZero() != b.IsZero() {
			return !a.IsZero()
		}
		return a.Before(b)
	})
	return out
}

// finalState is each planned domain as the run's last successful action on
// it left it. The trail records actions, not a closing inventory: a domain
// no action touched is "not recorded".
func (m *mapper) finalState() report.Inventory {
	inv := report.Inventory{At: m.p.LastAt, Sites: []report.SiteInventory{}}
	last := map[string]*engine.ActionProgress{}
	var order []string
	for _, a := range m.p.Actions {
		key := a.Intent.Site + "/" + a.Intent.Domain
		if a.Intent.Domain == "" || (a.Result != engine.ActionOK && a.Result != engine.ActionFoundDone) {
			continue
		}
		if _, ok := last[key]; !ok {
			order = append(order, key)
		}
		last[key] = a
	}
	var planned map[string][]string
	if m.rb != nil {
		planned = m.rb.Domains()
	}
	for _, s := range m.sites() {
		si := report.SiteInventory{Site: s.name, Role: s.role, Reachable: true, Domains: []report.DomainState{}}
		doms := set{}
		for _, d := range planned[s.name] {
			doms.add(d)
		}
		for _, k := range order {
			if site, d, _ := strings.Cut(k, "/"); site == s.name {
				doms.add(d)
			}
		}
		for _, d := range doms.sorted() {
			ds := report.DomainState{Name: d, State: "not recorded"}
			if a := last[s.name+"/"+d]; a != nil {
				ds.State = stateAfter(a.Intent.Verb)
				ds.Host = hostOf(a.Intent.URI)
				ds.Detail = fmt.Sprintf("after %s at %s (last action on it; not read again)", a.Intent.Verb, a.At.UTC().Format("15:04:05Z"))
			}
			si.Domains = append(si.Domains, ds)
		}
		inv.Sites = append(inv.Sites, si)
	}
	return inv
}

func stateAfter(verb string) string {
	switch verb {
	case "start", "resume":
		return "running"
	case "shutdown", "destroy":
		return "shut off"
	case "suspend":
		return "paused"
	case "undefine":
		return "undefined"
	case "define":
		return "defined"
	}
	return "after " + verb
}

var findingRe = regexp.MustCompile(`(?i)^\s*finding\s*:\s*`)

func isFinding(text string) bool { return findingRe.MatchString(text) }

var (
	ownerRe = regexp.MustCompile(`(?i)\bowner\s*[:=]\s*([^;,]+)`)
	dueRe   = regexp.MustCompile(`(?i)\bdue\s*[:=]\s*(\d{4}-\d{2}-\d{2})`)
	actRe   = regexp.MustCompile(`(?i)\baction\s*[:=]\s*([^;]+)`)
)

// findings are the notes tagged "finding:"; "action: …", "owner: …" and
// "due: YYYY-MM-DD", separated by ";", give the corrective action.
func (m *mapper) findings() []report.Finding {
	out := []report.Finding{}
	for _, n := range m.p.Notes {
		if !isFinding(n.Text) {
			continue
		}
		text := findingRe.ReplaceAllString(n.Text, "")
		f := report.Finding{ID: fmt.Sprintf("F%d", len(out)+1), At: n.At, By: n.Operator, Text: text}
		if sm := actRe.FindStringSubmatch(text); sm != nil {
			f.Action = strings.TrimSpace(sm[1])
			f.Text = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text[:strings.Index(text, sm[0])]), ";"))
		}
		if sm := ownerRe.FindStringSubmatch(text); sm != nil {
			f.Owner = strings.TrimSpace(sm[1])
		}
		if sm := dueRe.FindStringSubmatch(text); sm != nil {
			f.Due, _ = time.Parse("2006-01-02", sm[1])
		}
		if m.run.EndedAt != nil && n.At.After(*m.run.EndedAt) {
			f.AfterRun = true
		}
		out = append(out, f)
	}
	// Findings recorded after the run ended (repli note RUN --finding):
	// their own events, chained after the run's end.
	for _, ev := range m.events {
		sf, ok := ev.(*store.Finding)
		if !ok {
			continue
		}
		f := report.Finding{ID: fmt.Sprintf("F%d", len(out)+1), At: sf.At, By: sf.Operator, Step: sf.Step, Text: sf.Text, Owner: sf.Owner, AfterRun: true}
		f.Due, _ = time.Parse("2006-01-02", sf.Due)
		out = append(out, f)
	}
	return out
}

type set map[string]bool

func (s set) add(v string) {
	if v != "" {
		s[v] = true
	}
}

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
