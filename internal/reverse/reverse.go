// Package reverse writes the runbook that brings an estate back: from a
// validated runbook (the way out), the YAML of its way back, for a person to
// review before it is run (SRM's reprotect and planned migration, as a file).
//
// The way back is built on slots. Steps that act (start, stop, suspend,
// autostart, snapshots, definitions, commands) are inverted and their
// inverses fill the action slots in reverse order: what was done last is
// undone first. Steps that observe or wait (manual, check, wait) keep their
// place: a check before the first action is the way back's precondition
// too, with the domain state it expects inverted (running ↔ shut off),
// because at that point the way back finds the estate the way out left it.
// The RTO marks and gates belong to the slot, so the clock starts where
// production stops, as on the way out. What cannot be inverted (a command,
// a definition, a snapshot revert) becomes a manual step that says what the
// way out did and what to do; nothing is dropped. A volume copy is not
// undone but made again the other way, kept before the way back starts its
// domains where production returns (see order).
package reverse

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/repli-dr/repli/runbooks"
)

// Result is a way back: its YAML text, and the notes a reviewer should read
// first (steps repli could not invert, checks kept as written).
type Result struct {
	Name   string
	Source []byte
	Notes  []string
}

// returnSuffix marks the titles of manual steps kept on the way back, and
// the runbook's name; reversing a way back removes it again.
const (
	returnSuffix = " (return)"
	nameSuffix   = "-return"
)

// Reverse writes the way back of rb. The result parses and validates (it is
// checked before it is returned); an error means repli wrote something its
// own parser refuses, a bug.
func Reverse(rb *runbooks.Runbook) (*Result, error) {
	w := &writer{rb: rb, ids: map[string]bool{}}
	doc := w.document()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("write the way back of %s: %w", rb.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write the way back of %s: %w", rb.Name, err)
	}
	res := &Result{Name: w.name(), Source: buf.Bytes(), Notes: w.notes}
	if back, diags := runbooks.Parse(res.Name+".yaml", res.Source); back == nil {
		return nil, fmt.Errorf("the way back of %s does not validate (a bug in repli reverse): %s", rb.Name, diags)
	}
	return res, nil
}

type writer struct {
	rb    *runbooks.Runbook
	ids   map[string]bool
	notes []string
	// back is the order the way out's actions are undone in (see order);
	// moved says why an action left its mirrored place.
	back  []*runbooks.Step
	moved map[*runbooks.Step]string
}

func (w *writer) note(format string, a ...any) {
	w.notes = append(w.notes, fmt.Sprintf(format, a...))
}

func (w *writer) name() string {
	if n, ok := strings.CutSuffix(w.rb.Name, nameSuffix); ok && n != "" {
		return n
	}
	return w.rb.Name + nameSuffix
}

// acts reports whether a step changes something (and is inverted into
// another slot) rather than observing (and keeping its place).
func acts(st *runbooks.Step) bool {
	switch st.Kind {
	case runbooks.KindManual, runbooks.KindCheck, runbooks.KindWait:
		return false
	}
	return true
}

func (w *writer) document() *yaml.Node {
	rb := w.rb
	root := mapping()
	add(root, "version", intNode(1))
	add(root, "name", str(w.name()))
	title := rb.Title
	if title == "" {
		title = rb.Name
	}
	add(root, "title", str(wayBackTitle(title)))
	desc := fmt.Sprintf("Written by repli reverse from runbook %s: the way back, to review before it is run.\n", rb.Name)
	if d := ownDescription(rb.Description); d != "" {
		desc += "\n" + wayOutSaid + indent(strings.TrimRight(d, "\n"), "  ") + "\n"
	}
	add(root, "description", str(desc))
	if rb.RTO > 0 {
		add(root, "rto", str(duration(rb.RTO)))
	}
	if rb.RPO > 0 {
		add(root, "rpo", str(duration(rb.RPO)))
	}
	origin := mapping()
	add(origin, "name", str(rb.Name))
	add(origin, "sha256", str(rb.SHA256()))
	add(root, "reverse_of", origin)

	sites := mapping()
	for _, s := range rb.Sites {
		m := mapping()
		if len(s.URIs) > 1 {
			add(m, "uris", flowList(s.URIs))
		} else {
			add(m, "uri", str(s.URI))
		}
		role := runbooks.RolePrimary
		if s.Role == runbooks.RolePrimary {
			role = runbooks.RoleSecondary
		}
		add(m, "role", str(string(role)))
		if s.MaxPerHost > 0 {
			add(m, "max_per_host", intNode(s.MaxPerHost))
		}
		sites.Content = append(sites.Content, str(s.Name), m)
	}
	add(root, "sites", sites)
	sites.Content[0].HeadComment = "Roles swapped: production comes back to the site that is now the primary."

	steps := &yaml.Node{Kind: yaml.SequenceNode}
	for _, n := range w.steps() {
		steps.Content = append(steps.Content, n)
	}
	add(root, "steps", steps)

	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	doc.HeadComment = w.header()
	return doc
}

const wayOutSaid = "The way out said:\n"

// ownDescription is what a person wrote: reversing a way back quotes the
// description of the runbook it came from, not repli's words around it.
func ownDescription(d string) string {
	if !strings.HasPrefix(d, "Written by repli reverse") {
		return d
	}
	_, quoted, ok := strings.Cut(d, wayOutSaid)
	if !ok {
		return ""
	}
	lines := strings.Split(quoted, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "  ")
	}
	return strings.Join(lines, "\n")
}

func wayBackTitle(title string) string {
	if t, ok := strings.CutPrefix(title, "Way back: "); ok {
		return t
	}
	return "Way back: " + title
}

// header is the comment a reviewer reads first.
func (w *writer) header() string {
	rb := w.rb
	var b strings.Builder
	fmt.Fprintf(&b, "Way back of runbook %s, written by repli reverse.\n", rb.Name)
	fmt.Fprintf(&b, "  from:   %s\n", printable(rb.File))
	fmt.Fprintf(&b, "  sha256: %s\n", rb.SHA256())
	b.WriteString("REVIEW IT BEFORE YOU RUN IT. What repli did:\n")
	for _, s := range rb.Sites {
		if s.Role == runbooks.RolePrimary {
			fmt.Fprintf(&b, "  - site roles swapped: %s, the primary on the way out, is the secondary;\n", s.Name)
		}
	}
	b.WriteString("  - steps that act are inverted (shut down <-> start, suspend <-> resume,\n")
	b.WriteString("    autostart on <-> off, snapshot create -> delete) and run in reverse\n")
	b.WriteString("    order: what the way out did last is undone first;\n")
	b.WriteString("  - manual steps, checks and waits keep their place; domain-state checks\n")
	b.WriteString("    are inverted (running <-> shut off), other checks are kept as written;\n")
	b.WriteString("  - RTO marks stay in their place, unless a comment says why one moved;\n")
	b.WriteString("    gates follow the action they guard;\n")
	for _, st := range rb.Steps {
		if st.Kind == runbooks.KindCopy {
			b.WriteString("  - volume copies are made again the other way, over the volumes there,\n")
			b.WriteString("    before the way back starts their domains where production returns\n")
			b.WriteString("    (a comment says when one moved to keep that order);\n")
			break
		}
	}
	b.WriteString("  - what repli cannot invert (commands, definitions, snapshot reverts) is\n")
	b.WriteString("    a manual step that shows what the way out did: search for REVIEW.\n")
	if len(rb.Vars) > 0 {
		b.WriteString("Vars are written out with the values they had:\n")
		names := make([]string, 0, len(rb.Vars))
		for n := range rb.Vars {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v := rb.Vars[n]
			val := v.Value
			if v.IsList {
				val = "[" + strings.Join(v.List, ", ") + "]"
			}
			fmt.Fprintf(&b, "  %s = %s\n", n, printable(oneLine(val, 100)))
		}
	}
	b.WriteString("Its runs are recorded in mode failback (repli run FILE, without --mode).")
	return b.String()
}

// steps lays out the way back: observers in place, the inverses of the
// actions in the action slots, last first.
func (w *writer) steps() []*yaml.Node {
	rb := w.rb
	var slots []int
	var actions []*runbooks.Step
	for i, st := range rb.Steps {
		if acts(st) {
			slots = append(slots, i)
			actions = append(actions, st)
		}
	}
	// Kept ids first, so that generated ones give way.
	for _, st := range rb.Steps {
		if !acts(st) && !inverts(st) {
			w.ids[st.ID] = true
		}
	}
	out := make([]*step, len(rb.Steps))
	for i, st := range rb.Steps {
		if !acts(st) {
			out[i] = w.observer(st)
		}
	}
	for k, i := range slots {
		out[i] = w.inverse(w.order(actions)[k], rb.Steps[i])
	}
	w.moveRTO(out)
	nodes := make([]*yaml.Node, len(out))
	for i, s := range out {
		nodes[i] = s.node()
	}
	return nodes
}

// moveRTO puts the RTO marks where the outage of the way back begins and
// ends, when their slots do not. The clock started at the shutdown of
// production on the way out starts at the shutdown of production on the way
// back; and it cannot stop before the last start of the way back (a way out
// that ends with autostart or a sync puts its last start early on the way
// back). A mark on a manual step, such as "declare the disaster", stays.
func (w *writer) moveRTO(steps []*step) {
	startAt, stopAt := -1, -1
	firstStop, lastStart := -1, -1
	for i, s := range steps {
		switch s.rto {
		case runbooks.RTOStart:
			startAt = i
		case runbooks.RTOStop:
			stopAt = i
		}
		if s.kind == string(runbooks.KindShutdown) && firstStop < 0 {
			firstStop = i
		}
		if s.kind == string(runbooks.KindStart) {
			lastStart = i
		}
	}
	if startAt < 0 || stopAt < 0 {
		return
	}
	newStart, newStop := startAt, stopAt
	if k := w.rb.Steps[startAt].Kind; (k == runbooks.KindShutdown || k == runbooks.KindDestroy) && firstStop >= 0 {
		newStart = firstStop
	}
	if lastStart > stopAt {
		newStop = lastStart
	}
	if newStart >= newStop || (newStart == startAt && newStop == stopAt) {
		return
	}
	move := func(from, to int, mark runbooks.RTOMark, why string) {
		if from == to {
			return
		}
		steps[from].rto, steps[to].rto = "", mark
		steps[to].comments = append(steps[to].comments, fmt.Sprintf("RTO clock %s here, not at %s (the place of the way out's mark): %s.", map[runbooks.RTOMark]string{runbooks.RTOStart: "starts", runbooks.RTOStop: "stops"}[mark], steps[from].id, why))
	}
	move(startAt, newStart, runbooks.RTOStart, "production stops here")
	move(stopAt, newStop, runbooks.RTOStop, "production is back once this start is done")
}

// step is a step under construction: its kind's body, and the options.
type step struct {
	id, title, desc string
	kind            string
	body            *yaml.Node
	comments        []string
	gate            runbooks.Gate
	approvers       int
	rto             runbooks.RTOMark
	onFailure       runbooks.OnFailure
	retries         int
	retryDelay      time.Duration
	timeout         time.Duration
	checklist       []string
	record          bool
}

func (s *step) node() *yaml.Node {
	m := mapping()
	add(m, "id", str(s.id))
	add(m, "title", str(s.title))
	if s.desc != "" {
		add(m, "description", str(s.desc))
	}
	if s.gate != "" && s.gate != runbooks.GateNone {
		add(m, "gate", str(string(s.gate)))
		if s.approvers > 1 {
			add(m, "approvers", intNode(s.approvers))
		}
	}
	if s.rto != "" {
		add(m, "rto", str(string(s.rto)))
	}
	if s.onFailure != "" {
		add(m, "on_failure", str(string(s.onFailure)))
	}
	if s.retries > 0 {
		add(m, "retries", intNode(s.retries))
		if s.retryDelay > 0 && s.retryDelay != runbooks.DefaultRetryDelay {
			add(m, "retry_delay", str(duration(s.retryDelay)))
		}
	}
	if s.timeout > 0 {
		add(m, "timeout", str(duration(s.timeout)))
	}
	add(m, s.kind, s.body)
	if len(s.checklist) > 0 {
		add(m, "checklist", blockList(s.checklist))
	}
	if s.record {
		add(m, "record", boolNode(true))
	}
	m.HeadComment = strings.Join(s.comments, "\n")
	return m
}

// options copies the options that belong to what a step does.
func (s *step) options(st *runbooks.Step) {
	s.onFailure, s.retries, s.retryDelay, s.timeout = st.OnFailure, st.Retries, st.RetryDelay, st.Timeout
}

// slotted takes the RTO mark of the slot it fills, so that the clock still
// starts where production stops and stops where it is back. The gate is the
// one of the step whose action it repeats (gated, the way out's shutdown of
// the same domains when it has one), at least confirm when it stops
// something.
func (s *step) slotted(slot, gateOf *runbooks.Step, destructive bool) {
	s.rto = slot.RTO
	s.gate, s.approvers = gateOf.Gate, gateOf.Approvers
	if destructive && (s.gate == "" || s.gate == runbooks.GateNone) {
		s.gate = runbooks.GateConfirm
	}
	if s.kind == string(runbooks.KindManual) {
		// A manual step waits for the operator anyway.
		s.gate, s.approvers = runbooks.GateNone, 0
	}
}

func (w *writer) id(want string) string {
	id := want
	for n := 2; w.ids[id]; n++ {
		id = want + "-" + strconv.Itoa(n)
	}
	w.ids[id] = true
	return id
}

func modesComment(st *runbooks.Step) string {
	var parts []string
	if len(st.Modes) > 0 {
		parts = append(parts, "ran only in "+strings.Join(st.Modes, ", "))
	}
	if len(st.SkipIn) > 0 {
		parts = append(parts, "was skipped in "+strings.Join(st.SkipIn, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return "REVIEW: on the way out this step " + strings.Join(parts, " and ") + "; the way back runs in failback mode, so the restriction is not carried over."
}

// observer keeps a manual, check or wait step in its place.
func (w *writer) observer(st *runbooks.Step) *step {
	s := &step{id: st.ID, kind: string(st.Kind), desc: st.Description}
	s.options(st)
	s.gate, s.approvers, s.rto = st.Gate, st.Approvers, st.RTO
	if c := modesComment(st); c != "" {
		s.comments = append(s.comments, c)
	}
	switch st.Kind {
	case runbooks.KindManual:
		if t, ok := strings.CutSuffix(st.Title, returnSuffix); ok {
			s.title = t
		} else {
			s.title = st.Title + returnSuffix
		}
		s.body = str(st.Manual.Text)
		s.checklist, s.record = st.Manual.Checklist, st.Manual.Record
		s.comments = append(s.comments, fmt.Sprintf("Manual step %s, kept in its place.", st.ID))
	case runbooks.KindCheck:
		body, title, comment := w.check(st.Check, st)
		s.body, s.title = body, title
		s.comments = append(s.comments, comment)
		if inverts(st) {
			s.id = w.id(st.Check.Target.Site + "-" + stateWord(invertState(st.Check)))
		}
	case runbooks.KindWait:
		s.title = st.Title
		wt := st.Wait
		if wt.Until == nil {
			s.body = str(duration(wt.Duration))
			s.comments = append(s.comments, fmt.Sprintf("Wait %s, kept in its place.", st.ID))
			break
		}
		body, title, comment := w.check(wt.Until, st)
		m := mapping()
		add(m, "until", body)
		add(m, "timeout", str(duration(wt.Timeout)))
		s.body = m
		if title != st.Title {
			s.title = "Wait until: " + title
		}
		s.comments = append(s.comments, strings.Replace(comment, "Check", "Wait", 1))
	}
	return s
}

// inverts reports whether a check step is inverted; it then gets an id
// that says what it checks now (the way out's "primary-serving" would say
// the opposite).
func inverts(st *runbooks.Step) bool {
	return st.Kind == runbooks.KindCheck && invertible(st.Check)
}

func invertible(c *runbooks.Check) bool {
	return c.State == "running" || c.State == "shutoff" || c.Agent
}

func invertState(c *runbooks.Check) string {
	switch {
	case c.Agent:
		return "shutoff"
	case c.State == "running":
		return "shutoff"
	case c.State == "shutoff":
		return "running"
	}
	return c.State
}

func stateWord(state string) string {
	if state == "shutoff" {
		return "shut-off"
	}
	return state
}

// check inverts a domain-state check, or keeps another as written.
func (w *writer) check(c *runbooks.Check, st *runbooks.Step) (body *yaml.Node, title, comment string) {
	m := mapping()
	switch {
	case invertible(c):
		state := invertState(c)
		add(m, "site", str(c.Target.Site))
		add(m, "domains", domains(c.Target))
		add(m, "state", str(state))
		was := "state " + c.State
		if c.Agent {
			was = "that their guest agents answer"
		}
		words := map[string]string{"running": "Running", "shutoff": "Shut off"}
		title = fmt.Sprintf("%s at %s: %s", words[state], c.Target.Site, listDomains(c.Target))
		comment = fmt.Sprintf("Check %s (%q) inverted: the way out expected %s here.", st.ID, st.Title, was)
	default:
		title = st.Title
		switch {
		case c.State != "":
			add(m, "site", str(c.Target.Site))
			add(m, "domains", domains(c.Target))
			add(m, "state", str(c.State))
		case c.TCP != "":
			add(m, "tcp", str(c.TCP))
		case c.File != "":
			add(m, "file", str(c.File))
			if c.MaxAge > 0 {
				add(m, "max_age", str(duration(c.MaxAge)))
			}
			switch {
			case c.SHA256 != "":
				add(m, "sha256", str(c.SHA256))
			case c.SHA256File != "":
				add(m, "sha256", str(c.SHA256File))
			}
			if c.RecoveryPoint {
				// Kept as written means measured as written: dropping it
				// would leave the way back's RPO unmeasured, silently.
				add(m, "recovery_point", boolNode(true))
			}
		case len(c.Command) > 0:
			add(m, "command", command(c.Command, c.Shell))
			if c.Shell {
				add(m, "shell", boolNode(true))
			}
		}
		comment = fmt.Sprintf("REVIEW: check %s kept as written (%s): repli cannot tell what it should find on the way back.", st.ID, c.Probe())
		w.note("check %s is kept as written (%s): review what it should find on the way back", st.ID, oneLine(c.Probe(), 80))
	}
	if c.Timeout != runbooks.DefaultCheckTimeout {
		add(m, "timeout", str(duration(c.Timeout)))
	}
	return m, title, comment
}

// inverse writes the way back of src into the slot of the way out's slot

// wayBackOf is the way back's step for src, in the place of slot, before
// its action: its options, and comments saying where it comes from.
func (w *writer) wayBackOf(src, slot *runbooks.Step) *step {
	s := &step{}
	s.options(src)
	where := fmt.Sprintf("Way back of step %s (%q)", src.ID, src.Title)
	if slot != src {
		where += fmt.Sprintf(", in the place of step %s", slot.ID)
	}
	s.comments = append(s.comments, where+".")
	if why := w.moved[src]; why != "" {
		s.comments = append(s.comments, why)
	}
	if c := modesComment(src); c != "" {
		s.comments = append(s.comments, c)
	}
	s.desc = fmt.Sprintf("Way back of step %s: %s.", src.ID, src.Title)
	return s
}

// step.
func (w *writer) inverse(src, slot *runbooks.Step) *step {
	s := w.wayBackOf(src, slot)
	destructive, gateOf := false, src
	switch src.Kind {
	case runbooks.KindShutdown, runbooks.KindDestroy:
		t := src.Power
		if src.Kind == runbooks.KindShutdown {
			t = &src.Shutdown.Target
		}
		gateOf = w.startOf(s, *t, src)
	case runbooks.KindStart:
		gateOf = w.shutdownOf(s, src)
		destructive = true
	case runbooks.KindSuspend, runbooks.KindResume:
		verb := map[runbooks.Kind]runbooks.Kind{runbooks.KindSuspend: runbooks.KindResume, runbooks.KindResume: runbooks.KindSuspend}[src.Kind]
		s.kind = string(verb)
		s.body = target(*src.Power)
		s.title = fmt.Sprintf("%s %s", capitalize(string(verb)), src.Power)
		s.id = w.id(string(verb) + "-" + src.Power.Site)
	case runbooks.KindAutostart:
		a := src.Autostart
		m := target(a.Target)
		add(m, "enabled", boolNode(!a.Enabled))
		s.kind, s.body = string(runbooks.KindAutostart), m
		word := map[bool]string{true: "on", false: "off"}[!a.Enabled]
		s.title = fmt.Sprintf("Autostart %s for %s", word, a.Target)
		s.id = w.id("autostart-" + word + "-" + a.Target.Site)
	case runbooks.KindSnapshot:
		if src.Snapshot.Action == runbooks.SnapshotCreate {
			m := target(src.Snapshot.Target)
			add(m, "name", str(src.Snapshot.Name))
			add(m, "action", str(string(runbooks.SnapshotDelete)))
			s.kind, s.body = string(runbooks.KindSnapshot), m
			s.title = fmt.Sprintf("Delete snapshot %s of %s", src.Snapshot.Name, src.Snapshot.Target)
			s.id = w.id("delete-snapshot-" + src.Snapshot.Target.Site)
			destructive = true
			break
		}
		w.manual(s, src, fmt.Sprintf("On the way out, step %s (%q) did a snapshot %s of %s named %s.", src.ID, src.Title, src.Snapshot.Action, src.Snapshot.Target, src.Snapshot.Name),
			"A snapshot that was reverted to or deleted cannot be undone by repli: check the domains are in the state production needs, or restore them from a backup.")
	case runbooks.KindDefine:
		d := src.Define
		what := fmt.Sprintf("defined domains at %s from %s", d.Site, strings.Join(d.XML, ", "))
		if d.CopyFrom != "" {
			what = fmt.Sprintf("copied the definitions of %s from %s to %s", strings.Join(d.Domains, ", "), d.CopyFrom, d.Site)
		}
		w.manual(s, src, fmt.Sprintf("On the way out, step %s (%q) %s.", src.ID, src.Title, what),
			fmt.Sprintf("If those definitions must not stay at %s, remove them there (virsh undefine, once the domains are shut off and any copy of their disks back from %s is done; the volumes stay in its pools); otherwise keep them as the standby's.", d.Site, d.Site))
	case runbooks.KindUndefine:
		w.manual(s, src, fmt.Sprintf("On the way out, step %s (%q) removed the definitions of %s.", src.ID, src.Title, src.Power),
			"Define them again (virsh define FILE with the saved XML) if production must be able to run there.")
	case runbooks.KindFence:
		w.manual(s, src, fmt.Sprintf("On the way out, step %s (%q) fenced %s: forced off, autostart turned off on every host (or the site was isolated by hand, as recorded).", src.ID, src.Title, src.Power),
			fmt.Sprintf("Before production returns to %s, check the site is whole and its storage holds nothing newer than the copy coming back; lift the isolation; turn autostart back on where production needs it (virsh autostart DOMAIN).", src.Power.Site))
	case runbooks.KindCopy:
		c := runbooks.CopyOf(src)
		s.kind, s.body = string(runbooks.KindCopy), copyBack(c)
		s.title = fmt.Sprintf("Copy the volumes back from %s to %s", c.To, c.From)
		s.id = w.id("copy-back-" + c.From)
		destructive = true
	case runbooks.KindExec:
		w.manual(s, src, fmt.Sprintf("On the way out, step %s (%q) ran this command here:\n\n%s\n", src.ID, src.Title, indent(describeExec(src.Exec), "    ")),
			"repli cannot tell what undoes it. Do by hand what its way back needs (for a replication pass: the same pass in the other direction, towards the site production returns to), or replace this step with an exec that does it; then record what you did.")
		w.note("step %s is a command repli cannot invert (%s): it became manual step %s", src.ID, oneLine(describeExec(src.Exec), 60), s.id)
		if src.Exec.RecoveryPoint != "" {
			w.note("step %s recorded the recovery point on the way out (recovery_point: %s); manual step %s does not, so the way back's RPO is measured only from what else records one", src.ID, src.Exec.RecoveryPoint, s.id)
		}
	}
	if gateOf != src {
		// Repeating another step's action: its retries, timeout and
		// failure policy, not those of what is undone (a fence that may
		// fail and go on is not a start that may).
		s.options(gateOf)
	} else if src.Kind == runbooks.KindDestroy && src.OnFailure == runbooks.OnFailureContinue {
		s.onFailure = ""
		s.comments = append(s.comments, "REVIEW: on the way out a failure of this step let the run go on; starting production should not, so on_failure is not carried over.")
	}
	s.slotted(slot, gateOf, destructive)
	return s
}

// manual turns what repli cannot invert into a manual step that says what
// the way out did and what to do, with the operator's answer recorded.
func (w *writer) manual(s *step, src *runbooks.Step, did, todo string) {
	s.kind = string(runbooks.KindManual)
	s.body = str(did + "\n" + todo)
	s.title = "Undo by hand: " + src.Title
	s.id = w.id("return-" + src.ID)
	s.record = true
	s.retries, s.timeout, s.onFailure = 0, 0, ""
	s.comments = append(s.comments, "REVIEW: repli cannot invert this step; it is a manual step until you write its way back.")
	if src.Kind != runbooks.KindExec {
		w.note("step %s (%s) cannot be inverted: it became manual step %s", src.ID, src.Kind, s.id)
	}
}

// startOf writes the start that undoes a shutdown or a forced off. The
// order is the stop order reversed; when the way out starts the same
// domains in that order somewhere (at the other site, usually), its groups,
// wait and timeout are taken, so that a switchover's way back starts in the
// same dependency order, and reversing twice gives the groups back. A
// forced off has no order: any start of the same domains gives it one.
func (w *writer) startOf(s *step, t runbooks.Target, src *runbooks.Step) (gateOf *runbooks.Step) {
	gateOf = src
	order := t.Domains
	m := mapping()
	add(m, "site", str(t.Site))
	timeout := runbooks.DefaultStartTimeout
	if src.Shutdown != nil {
		timeout = src.Shutdown.Timeout
	}
	if t.Dynamic() {
		add(m, "domains", domains(t))
	} else if ls := w.like(runbooks.KindStart, reversed(t.Domains), src.Kind == runbooks.KindShutdown); ls != nil {
		like := ls.Start
		gateOf, order = ls, like.Target().Domains
		add(m, "groups", groups(like.Groups))
		if like.MaxParallel > 0 {
			add(m, "max_parallel", intNode(like.MaxParallel))
		}
		if like.Wait != "running" {
			add(m, "wait", str(like.Wait))
		}
		timeout = like.Timeout
		s.comments = append(s.comments, "Start order taken from the way out's start of the same domains.")
	} else {
		rev := make([][]string, len(t.Domains))
		order = make([]string, len(t.Domains))
		for i, d := range t.Domains {
			rev[len(t.Domains)-1-i] = []string{d}
			order[len(t.Domains)-1-i] = d
		}
		add(m, "groups", groups(rev))
		s.comments = append(s.comments, "Started one at a time, in the reverse of the order they were stopped in.")
	}
	if timeout != runbooks.DefaultStartTimeout {
		add(m, "timeout", str(duration(timeout)))
	}
	s.kind, s.body = string(runbooks.KindStart), m
	s.title = "Start " + runbooks.Target{Site: t.Site, Domains: order, Glob: t.Glob, All: t.All}.String()
	s.id = w.id("start-" + t.Site)
	return gateOf
}

// shutdownOf writes the shutdown that undoes a start: the last group
// started is the first stopped, and within a group the last named first.
func (w *writer) shutdownOf(s *step, src *runbooks.Step) (gateOf *runbooks.Step) {
	gateOf = src
	st := src.Start
	t := st.Target()
	m := mapping()
	add(m, "site", str(t.Site))
	if t.Dynamic() {
		add(m, "domains", domains(t))
	} else {
		var order []string
		for i := len(st.Groups) - 1; i >= 0; i-- {
			g := st.Groups[i]
			for j := len(g) - 1; j >= 0; j-- {
				order = append(order, g[j])
			}
		}
		t.Domains = order
		add(m, "domains", flowList(order))
	}
	timeout, force := runbooks.DefaultShutdownTimeout, false
	if ls := w.like(runbooks.KindShutdown, t.Domains, false); ls != nil && !t.Dynamic() {
		gateOf, timeout, force = ls, ls.Shutdown.Timeout, ls.Shutdown.Force
		s.comments = append(s.comments, "Timeout and force taken from the way out's shutdown of the same domains.")
	} else {
		s.comments = append(s.comments, "REVIEW: force is off: a domain that ignores the shutdown request fails the step; say force: true to force it off after the timeout.")
	}
	if timeout != runbooks.DefaultShutdownTimeout {
		add(m, "timeout", str(duration(timeout)))
	}
	if force {
		add(m, "force", boolNode(true))
	}
	s.kind, s.body = string(runbooks.KindShutdown), m
	s.title = "Shut down " + t.String()
	s.id = w.id("stop-" + t.Site)
	return gateOf
}

func reversed(list []string) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[len(list)-1-i] = v
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	x, y := append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// like is the way out's first start or shutdown of these domains: in
// exactly this order when ordered is set, else in any order.
func (w *writer) like(kind runbooks.Kind, ds []string, ordered bool) *runbooks.Step {
	for _, st := range w.rb.Steps {
		if st.Kind != kind {
			continue
		}
		t := st.Targets()[0]
		if t.Dynamic() || !sameSet(t.Domains, ds) {
			continue
		}
		if !ordered || strings.Join(t.Domains, "\x00") == strings.Join(ds, "\x00") {
			return st
		}
	}
	return nil
}

// describeExec renders a command for a person: argv shell-quoted, the
// names (never the values) of its environment.
func describeExec(e *runbooks.Exec) string {
	var b strings.Builder
	if e.Shell {
		b.WriteString(strings.Join(e.Command, " "))
	} else {
		q := make([]string, len(e.Command))
		for i, a := range e.Command {
			q[i] = shellQuote(a)
		}
		b.WriteString(strings.Join(q, " "))
	}
	if e.Dir != "" {
		b.WriteString("\n(in directory " + e.Dir + ")")
	}
	if len(e.Env) > 0 {
		b.WriteString("\n(environment: " + strings.Join(keys(e.Env), ", ") + ")")
	}
	if len(e.SecretEnv) > 0 {
		b.WriteString("\n(secrets read from files into: " + strings.Join(keys(e.SecretEnv), ", ") + ")")
	}
	if e.Site != "" {
		b.WriteString("\n(concerning site " + e.Site + ")")
	}
	if e.RecoveryPoint != "" {
		b.WriteString("\n(recovery_point: " + e.RecoveryPoint + ": the time it printed last was the run's recovery point; a command that replaces this step should print one too, or the way back's RPO is not measured from it)")
	}
	return b.String()
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

func shellQuote(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// listDomains names a target's domains for a title.
func listDomains(t runbooks.Target) string {
	switch {
	case t.All:
		return "all domains"
	case t.Glob != "":
		return t.Glob
	case len(t.Domains) > 4:
		return strconv.Itoa(len(t.Domains)) + " domains"
	}
	return strings.Join(t.Domains, ", ")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func indent(s, pre string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pre + l
		}
	}
	return strings.Join(lines, "\n")
}

// printable keeps text from outside (a path, a var's value) from breaking
// out of a comment line or reaching a terminal as a control sequence.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// oneLine shortens text for a comment or a note.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// duration writes a duration the way runbooks do: 2m, not 2m0s.
func duration(d time.Duration) string {
	if d%(24*time.Hour) == 0 && d >= 48*time.Hour {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// YAML nodes. Every string goes through str, which keeps a literal ${ from
// being read as a var (the values are already substituted).

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.ReplaceAll(s, "${", "$${")}
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}

func intNode(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

func boolNode(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func flowList(items []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, it := range items {
		n.Content = append(n.Content, str(it))
	}
	return n
}

func blockList(items []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, it := range items {
		n.Content = append(n.Content, str(it))
	}
	return n
}

func groups(gs [][]string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, g := range gs {
		n.Content = append(n.Content, flowList(g))
	}
	return n
}

func domains(t runbooks.Target) *yaml.Node {
	switch {
	case t.All:
		return str("all")
	case t.Glob != "":
		return str(t.Glob)
	}
	return flowList(t.Domains)
}

func target(t runbooks.Target) *yaml.Node {
	m := mapping()
	add(m, "site", str(t.Site))
	add(m, "domains", domains(t))
	return m
}

func command(argv []string, shell bool) *yaml.Node {
	if shell && len(argv) == 1 {
		return str(argv[0])
	}
	return flowList(argv)
}

// copyBack is the way back of a copy: the same volumes, from the site they
// were copied to back to the one they came from, over the volumes there
// (which the way out left in place).
func copyBack(c *runbooks.Copy) *yaml.Node {
	m := mapping()
	add(m, "from", str(c.To))
	add(m, "to", str(c.From))
	vols := &yaml.Node{Kind: yaml.SequenceNode}
	for _, v := range c.Volumes {
		e := mapping()
		e.Style = yaml.FlowStyle
		if v.Domain != "" {
			add(e, "domain", str(v.Domain))
		} else {
			add(e, "pool", str(v.Pool))
			add(e, "name", str(v.Name))
		}
		vols.Content = append(vols.Content, e)
	}
	add(m, "volumes", vols)
	add(m, "target", str(runbooks.CopyTargetOverwrite))
	add(m, "verify", str(c.Verify))
	add(m, "timeout", str(duration(c.Timeout)))
	return m
}

// order is the order the way out's actions are undone in: last first, with
// two corrections for copies, which are not undone but made again the other
// way, at the mirrored place in the life of their domains.
//
//   - A copy the way out made before it stopped the domains at the source
//     (a first pass while production ran) would come after the way back
//     starts them there again, and replace the disks under running guests.
//     It goes before the way back stops them at the other site instead (a
//     first pass back while production still runs there), or, when the
//     way back stops nothing there, just before the start.
//   - The way back of a definition (a manual step that may remove it) would
//     come before a copy back that finds its disks through it ({domain: …}
//     volumes are read from the domain's definition at the copy's source).
//     It goes after the last such copy.
func (w *writer) order(actions []*runbooks.Step) []*runbooks.Step {
	if w.back != nil {
		return w.back
	}
	w.moved = map[*runbooks.Step]string{}
	order := make([]*runbooks.Step, len(actions))
	for i, st := range actions {
		order[len(actions)-1-i] = st
	}
	for i := 0; i < len(order); i++ {
		st := order[i]
		if st.Kind != runbooks.KindCopy {
			continue
		}
		c := runbooks.CopyOf(st)
		ds := copyDomains(c)
		started := -1
		for j := 0; j < i && started < 0; j++ {
			if (order[j].Kind == runbooks.KindShutdown || order[j].Kind == runbooks.KindDestroy) && touches(order[j], c.From, ds) {
				started = j
			}
		}
		if started < 0 {
			continue
		}
		to := started
		for j := 0; j < started; j++ {
			if order[j].Kind == runbooks.KindStart && touches(order[j], c.To, ds) {
				to = j
				break
			}
		}
		order = moveTo(order, i, to)
		w.moved[st] = fmt.Sprintf("Moved before the way back of step %s: on the way out this copy ran before %s stopped at %s, so on the way back it runs before they start there again (it would replace the disks of running guests).", order[to+1].ID, strings.Join(ds, ", "), c.From)
	}
	var defines []*runbooks.Step
	for _, st := range order {
		if st.Kind == runbooks.KindDefine {
			defines = append(defines, st)
		}
	}
	for _, d := range defines {
		i := index(order, d)
		last := -1
		for k := i + 1; k < len(order); k++ {
			if order[k].Kind != runbooks.KindCopy {
				continue
			}
			c := runbooks.CopyOf(order[k])
			if c.To == d.Define.Site && overlaps(copyDomains(c), d.Define.Domains) {
				last = k
			}
		}
		if last < 0 {
			continue
		}
		w.moved[d] = fmt.Sprintf("Moved after the way back of step %s, which reads the disks of the domains from the definitions at %s.", order[last].ID, d.Define.Site)
		order = moveTo(order, i, last)
	}
	w.back = order
	return order
}

// copyDomains are the domains a copy names ({domain: …} volumes).
func copyDomains(c *runbooks.Copy) []string {
	var out []string
	for _, v := range c.Volumes {
		if v.Domain != "" {
			out = append(out, v.Domain)
		}
	}
	return out
}

// touches reports whether a step acts at site on one of ds (a glob or
// "all" may be any of them).
func touches(st *runbooks.Step, site string, ds []string) bool {
	for _, t := range st.Targets() {
		if t.Site == site && (t.Dynamic() || overlaps(t.Domains, ds)) {
			return true
		}
	}
	return false
}

// overlaps reports whether a and b share a name; an empty b (a definition
// from XML files, whose domains repli does not read here) may be any.
func overlaps(a, b []string) bool {
	if len(a) == 0 {
		return false
	}
	if len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func index(list []*runbooks.Step, st *runbooks.Step) int {
	for i, x := range list {
		if x == st {
			return i
		}
	}
	return -1
}

// moveTo moves list[from] to index to, shifting what lies between.
func moveTo(list []*runbooks.Step, from, to int) []*runbooks.Step {
	st := list[from]
	out := append(list[:from:from], list[from+1:]...)
	out = append(out[:to:to], append([]*runbooks.Step{st}, out[to:]...)...)
	return out
}
