package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/runbooks"
)

type planFlags struct {
	mode   string
	vars   []string
	output outputFormat
}

func newPlanCmd() *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Show what a runbook would do in a mode, step by step, touching nothing",
		Long: `Print the resolved plan of a runbook: its steps in order with what each one
acts on (vars substituted; globs and "all" are resolved only at run time),
start groups, gates, the steps the mode skips and why, failure policies and
timeouts, and where the RTO clock starts and stops. No site is contacted and
nothing is recorded.

FILE is a runbook file, or the name of a bundled runbook (annual-pra-test).

--json prints one object for scripts. Its keys are a contract (added to,
never renamed): runbook, title, file, sha256, mode, rto_s and rpo_s (null
without a target), rto_clock ({start, stop} step ids, or null), vars
([{name, value, list, is_list, overridden}]), sites ([{name, uri, uris,
role}]) and steps, each with index, id, title, kind, action (one line),
gate, approvers, typed (what a typed gate wants typed), waits_for_operator,
destructive, runs, skip_reason, targets ([{site, domains, glob, all,
resolved_at_run_time}]), groups, max_parallel, on_failure ("" for the
default: ask, or abort with --auto-approve), retries, retry_delay_s,
timeout_s (the whole step; 0 for none), kind_timeout_s (the kind's own:
per domain, per probe, per command; 0 for none), modes, skip_in and
rto_mark ("start", "stop" or "").

Exit status: 0 the plan was printed, 2 bad input (an invalid runbook, an
unknown mode or var).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !contains(modes, f.mode) {
				return withCode(exitUsage, fmt.Errorf("--mode %q: use one of %s", f.mode, strings.Join(modes, ", ")))
			}
			rb, err := loadRunbook(args[0], f.vars...)
			if err != nil {
				return err
			}
			overrides, _ := parseVars(f.vars)
			p := buildPlan(rb, f.mode, overrides)
			out := cmd.OutOrStdout()
			if f.output.json() {
				return writeJSON(out, p)
			}
			return writePlan(out, p)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.mode, "mode", "test", "run mode to plan for: "+strings.Join(modes, ", "))
	fl.StringArrayVar(&f.vars, "var", nil, "override a runbook var: NAME=VALUE, a list as a,b,c (repeatable)")
	outputFlag(cmd, &f.output)
	return cmd
}

// planDoc is the resolved plan, and the JSON shape of repli plan --json. Its
// keys are a contract for scripts: add, never rename.
type planDoc struct {
	Runbook  string     `json:"runbook"`
	Title    string     `json:"title"`
	File     string     `json:"file"`
	SHA256   string     `json:"sha256"`
	Mode     string     `json:"mode"`
	RTOS     *float64   `json:"rto_s"`
	RPOS     *float64   `json:"rpo_s"`
	RTOClock *planClock `json:"rto_clock"`
	Vars     []planVar  `json:"vars"`
	Sites    []planSite `json:"sites"`
	Steps    []planStep `json:"steps"`

	rb *runbooks.Runbook
}

// planClock names the steps that start and stop the recovery clock.
type planClock struct {
	Start string `json:"start"`
	Stop  string `json:"stop"`
}

type planVar struct {
	Name       string   `json:"name"`
	Value      string   `json:"value"`
	List       []string `json:"list"`
	IsList     bool     `json:"is_list"`
	Overridden bool     `json:"overridden"`
}

type planSite struct {
	Name string   `json:"name"`
	URI  string   `json:"uri"`
	URIs []string `json:"uris"`
	Role string   `json:"role"`
}

type planTarget struct {
	Site    string   `json:"site"`
	Domains []string `json:"domains"`
	Glob    string   `json:"glob"`
	All     bool     `json:"all"`
	// Dynamic targets (a glob, all) are matched against the site's live
	// domain list when the step runs.
	Dynamic bool `json:"resolved_at_run_time"`
}

type planStep struct {
	Index            int          `json:"index"`
	ID               string       `json:"id"`
	Title            string       `json:"title"`
	Kind             string       `json:"kind"`
	Action           string       `json:"action"`
	Gate             string       `json:"gate"`
	Approvers        int          `json:"approvers"`
	Typed            string       `json:"typed"`
	WaitsForOperator bool         `json:"waits_for_operator"`
	Destructive      bool         `json:"destructive"`
	Runs             bool         `json:"runs"`
	SkipReason       string       `json:"skip_reason"`
	Targets          []planTarget `json:"targets"`
	Groups           [][]string   `json:"groups"`
	MaxParallel      int          `json:"max_parallel"`
	OnFailure        string       `json:"on_failure"`
	Retries          int          `json:"retries"`
	RetryDelayS      float64      `json:"retry_delay_s"`
	TimeoutS         float64      `json:"timeout_s"`
	KindTimeoutS     float64      `json:"kind_timeout_s"`
	Modes            []string     `json:"modes"`
	SkipIn           []string     `json:"skip_in"`
	RTOMark          string       `json:"rto_mark"`

	st *runbooks.Step
}

func planSeconds(d time.Duration) *float64 {
	if d <= 0 {
		return nil
	}
	s := d.Seconds()
	return &s
}

func buildPlan(rb *runbooks.Runbook, mode string, overrides map[string]string) *planDoc {
	p := &planDoc{
		Runbook: rb.Name, Title: rb.Title, File: rb.File, SHA256: rb.SHA256(), Mode: mode,
		RTOS: planSeconds(rb.RTO), RPOS: planSeconds(rb.RPO),
		Vars: []planVar{}, Sites: []planSite{}, Steps: []planStep{}, rb: rb,
	}
	names := make([]string, 0, len(rb.Vars))
	for n := range rb.Vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := rb.Vars[n]
		_, over := overrides[n]
		pv := planVar{Name: n, Value: v.Value, List: planNonNil(v.List), IsList: v.IsList, Overridden: over}
		if v.IsList {
			pv.Value = ""
		}
		p.Vars = append(p.Vars, pv)
	}
	for _, s := range rb.Sites {
		p.Sites = append(p.Sites, planSite{Name: s.Name, URI: engine.RedactURI(s.URI), URIs: planNonNil(engine.RedactURIs(s.URIs)), Role: string(s.Role)})
	}
	var clock planClock
	for i, st := range rb.Steps {
		runs, why := st.RunsIn(rb, mode)
		ps := planStep{
			Index: i + 1, ID: st.ID, Title: st.Title, Kind: string(st.Kind), Action: planAction(st),
			Gate: string(st.Gate), Approvers: st.Approvers,
			WaitsForOperator: st.Gate != runbooks.GateNone || st.Kind == runbooks.KindManual,
			Destructive:      st.Destructive(), Runs: runs, SkipReason: why,
			Targets: []planTarget{}, Groups: [][]string{},
			OnFailure: string(st.OnFailure), Retries: st.Retries, RetryDelayS: st.RetryDelay.Seconds(),
			TimeoutS: st.Timeout.Seconds(), KindTimeoutS: planKindTimeout(st).Seconds(),
			Modes: planNonNil(st.Modes), SkipIn: planNonNil(st.SkipIn), RTOMark: string(st.RTO), st: st,
		}
		if st.Gate == runbooks.GateTyped {
			ps.Typed = engine.GateExpect(rb, st)
		}
		for _, t := range st.Targets() {
			ps.Targets = append(ps.Targets, planTarget{Site: t.Site, Domains: planNonNil(t.Domains), Glob: t.Glob, All: t.All, Dynamic: t.Dynamic()})
		}
		if st.Kind == runbooks.KindStart {
			ps.Groups = append(ps.Groups, st.Start.Groups...)
			ps.MaxParallel = st.Start.MaxParallel
		}
		switch st.RTO {
		case runbooks.RTOStart:
			clock.Start = st.ID
		case runbooks.RTOStop:
			clock.Stop = st.ID
		}
		p.Steps = append(p.Steps, ps)
	}
	if clock.Start != "" {
		p.RTOClock = &clock
	}
	return p
}

func planNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// planKindTimeout is the kind's own time limit, as the engine applies it.
func planKindTimeout(st *runbooks.Step) time.Duration {
	switch st.Kind {
	case runbooks.KindCheck:
		return st.Check.Timeout
	case runbooks.KindShutdown:
		return st.Shutdown.Timeout
	case runbooks.KindStart:
		return st.Start.Timeout
	case runbooks.KindExec:
		return st.Exec.Timeout
	case runbooks.KindWait:
		if st.Wait.Until != nil {
			return st.Wait.Timeout
		}
	}
	return 0
}

// planTargetText renders a target, saying when it is resolved only at run time.
func planTargetText(t runbooks.Target) string {
	if t.Dynamic() {
		return t.String() + " (resolved at run time)"
	}
	return t.String()
}

func planStepTargets(st *runbooks.Step) string {
	ts := st.Targets()
	if len(ts) == 0 {
		return ""
	}
	return planTargetText(ts[0])
}

// planProbe says what a check asserts.
func planProbe(c *runbooks.Check) string {
	switch {
	case c.State != "":
		return planTargetText(c.Target) + ": all in state " + c.State
	case c.Agent:
		return planTargetText(c.Target) + ": every guest agent answers"
	case c.TCP != "":
		return "tcp " + c.TCP + " accepts a connection"
	case c.File != "":
		return "file " + c.File + " is younger than " + planDur(c.MaxAge)
	case c.Shell:
		return "shell line exits 0: " + engine.CommandString(c.Command, true)
	case len(c.Command) > 0:
		return "command exits 0: " + planShellQuote(c.Command)
	}
	return ""
}

// planAction is one line that says what the step does.
func planAction(st *runbooks.Step) string {
	switch st.Kind {
	case runbooks.KindManual:
		return "the operator: " + planOneLine(st.Manual.Text)
	case runbooks.KindCheck:
		return "check " + planProbe(st.Check)
	case runbooks.KindShutdown:
		return "shut down " + planStepTargets(st) + ", one at a time"
	case runbooks.KindStart:
		s := st.Start
		if len(s.Groups) > 1 && s.Glob == "" && !s.All && !planSingletons(s.Groups) {
			return fmt.Sprintf("start %s in %d groups", planStepTargets(st), len(s.Groups))
		}
		return "start " + planStepTargets(st)
	case runbooks.KindDestroy:
		return "force off " + planStepTargets(st)
	case runbooks.KindSuspend:
		return "pause " + planStepTargets(st)
	case runbooks.KindResume:
		return "resume " + planStepTargets(st)
	case runbooks.KindUndefine:
		return "remove the definitions of " + planStepTargets(st)
	case runbooks.KindDefine:
		d := st.Define
		if d.CopyFrom != "" {
			return fmt.Sprintf("copy the definitions of %s from %s to %s", strings.Join(d.Domains, ", "), d.CopyFrom, d.Site)
		}
		return fmt.Sprintf("define domains at %s from %s", d.Site, strings.Join(d.XML, ", "))
	case runbooks.KindSnapshot:
		s := st.Snapshot
		switch s.Action {
		case runbooks.SnapshotRevert:
			return fmt.Sprintf("revert %s to snapshot %s", planStepTargets(st), s.Name)
		case runbooks.SnapshotDelete:
			return fmt.Sprintf("delete snapshot %s of %s", s.Name, planStepTargets(st))
		}
		return fmt.Sprintf("create snapshot %s of %s", s.Name, planStepTargets(st))
	case runbooks.KindAutostart:
		if st.Autostart.Enabled {
			return "turn autostart on for " + planStepTargets(st)
		}
		return "turn autostart off for " + planStepTargets(st)
	case runbooks.KindExec:
		if st.Exec.Shell {
			return "run the shell line " + planOneLine(engine.CommandString(st.Exec.Command, true))
		}
		return "run " + planShellQuote(st.Exec.Command)
	case runbooks.KindWait:
		if st.Wait.Until != nil {
			return fmt.Sprintf("wait until %s, at most %s", planProbe(st.Wait.Until), planDur(st.Wait.Timeout))
		}
		return "wait " + planDur(st.Wait.Duration)
	}
	return string(st.Kind)
}

func planSingletons(groups [][]string) bool {
	for _, g := range groups {
		if len(g) != 1 {
			return false
		}
	}
	return true
}

func planOneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// planDur renders a runbook duration as it is written: 4h, 1h30m, 90s.
func planDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// planShellQuote renders an argument list so that it can be pasted in a shell.
func planShellQuote(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// planWidth is the width the text plan is laid out for.
const planWidth = 80

// planLabelWidth is the width of the labels of a step's detail lines.
const planLabelWidth = 9

type planPrinter struct {
	w   io.Writer
	err error
}

func (p *planPrinter) line(s string) {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, strings.TrimRight(s, " ")+"\n")
	}
}

// field prints "label  text" with text wrapped under itself.
func (p *planPrinter) field(indent int, label string, width int, text string) {
	pad := strings.Repeat(" ", indent)
	lines := planWrap(text, planWidth-indent-width-1)
	for i, l := range lines {
		if i == 0 {
			p.line(pad + planPad(label, width) + " " + l)
		} else {
			p.line(pad + strings.Repeat(" ", width+1) + l)
		}
	}
}

func planPad(s string, n int) string {
	if w := utf8.RuneCountInString(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

// planWrap breaks text into lines of at most width runes at spaces, keeping its
// own line breaks; a word longer than width is cut.
func planWrap(text string, width int) []string {
	if width < 10 {
		width = 10
	}
	var out []string
	for _, para := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		cur := ""
		for _, word := range strings.Fields(para) {
			for utf8.RuneCountInString(word) > width {
				if cur != "" {
					out = append(out, cur)
					cur = ""
				}
				r := []rune(word)
				out = append(out, string(r[:width]))
				word = string(r[width:])
			}
			switch {
			case cur == "":
				cur = word
			case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) <= width:
				cur += " " + word
			default:
				out = append(out, cur)
				cur = word
			}
		}
		out = append(out, cur)
	}
	return out
}

func writePlan(w io.Writer, p *planDoc) error {
	pr := &planPrinter{w: w}
	rb := p.rb
	head := rb.Name
	if rb.Title != "" && rb.Title != rb.Name {
		head += ": " + rb.Title
	}
	for i, l := range planWrap(head, planWidth-2) {
		if i > 0 {
			l = "  " + l
		}
		pr.line(l)
	}
	const hw = 8
	pr.field(2, "file", hw, p.File)
	pr.field(2, "sha256", hw, p.SHA256)
	skipped := 0
	for _, s := range p.Steps {
		if !s.Runs {
			skipped++
		}
	}
	counts := fmt.Sprintf("%s: all %d steps run", p.Mode, len(p.Steps))
	if len(p.Steps) == 1 {
		counts = p.Mode + ": its one step runs"
	}
	if skipped > 0 {
		counts = fmt.Sprintf("%s: %d of %d steps run, %d skipped", p.Mode, len(p.Steps)-skipped, len(p.Steps), skipped)
	}
	pr.field(2, "mode", hw, counts)
	pr.field(2, "RTO", hw, planRTOLine(p))
	if rb.RPO > 0 {
		pr.field(2, "RPO", hw, planDur(rb.RPO)+" target")
	}
	for i, v := range p.Vars {
		label := ""
		if i == 0 {
			label = "vars"
		}
		val := v.Value
		if v.IsList {
			val = "[" + strings.Join(v.List, ", ") + "]"
		}
		suffix := ""
		if v.Overridden {
			suffix = " (--var)"
		}
		// A long value is cut here: the steps show it in full, substituted.
		room := planWidth - 2 - hw - 1 - utf8.RuneCountInString(v.Name+" = "+suffix)
		if val = planOneLine(val); utf8.RuneCountInString(val) > room {
			val = string([]rune(val)[:max(room-1, 10)]) + "…"
		}
		pr.field(2, label, hw, v.Name+" = "+val+suffix)
	}
	pr.field(2, "failure", hw, "a step that fails after its retries asks what to do (with --auto-approve: aborts the run), unless it says otherwise")

	pr.line("")
	pr.line("Sites")
	nw, rw := 0, 0
	for _, s := range p.Sites {
		nw, rw = max(nw, utf8.RuneCountInString(s.Name)), max(rw, len(s.Role))
	}
	for _, s := range p.Sites {
		lead := "  " + planPad(s.Name, nw) + "  " + planPad(s.Role, rw) + "  "
		uris := s.URIs
		if len(uris) == 0 {
			uris = []string{s.URI}
		}
		if utf8.RuneCountInString(lead)+utf8.RuneCountInString(uris[0]) <= planWidth && len(uris) == 1 {
			pr.line(lead + uris[0])
			continue
		}
		pr.line(strings.TrimRight(lead, " "))
		for _, u := range uris {
			for _, l := range planWrap(u, planWidth-4) {
				pr.line("    " + l)
			}
		}
	}

	pr.line("")
	pr.line("Steps")
	numw := len(strconv.Itoa(len(p.Steps)))
	indent := 2 + numw + 2
	for i, s := range p.Steps {
		if i > 0 {
			pr.line("")
		}
		writePlanStep(pr, p, s, numw, indent)
	}
	return pr.err
}

func planRTOLine(p *planDoc) string {
	rb := p.rb
	target := "no target"
	if rb.RTO > 0 {
		target = planDur(rb.RTO) + " target"
	}
	if p.RTOClock == nil {
		return target + "; no step says rto: start, so the recovery time is not measured"
	}
	var start, stop planStep
	for _, s := range p.Steps {
		switch s.ID {
		case p.RTOClock.Start:
			start = s
		case p.RTOClock.Stop:
			stop = s
		}
	}
	line := fmt.Sprintf("%s; the clock runs from the start of step %d %s to the end of step %d %s",
		target, start.Index, start.ID, stop.Index, stop.ID)
	if !start.Runs {
		line += fmt.Sprintf("; %s is skipped in %s mode, and the clock starts where it would have run", start.ID, p.Mode)
	}
	if !stop.Runs {
		line += fmt.Sprintf("; %s is skipped in %s mode, and the clock stops where it would have run", stop.ID, p.Mode)
	}
	return line
}

func writePlanStep(pr *planPrinter, p *planDoc, s planStep, numw, indent int) {
	st := s.st
	head := []string{s.ID, s.Kind}
	switch {
	case !s.Runs:
		head = append(head, "SKIPPED")
	case st.Gate == runbooks.GateTyped:
		head = append(head, fmt.Sprintf("gate: type %q", s.Typed))
	case st.Gate == runbooks.GateConfirm:
		head = append(head, "gate: confirm")
	case st.Kind == runbooks.KindManual:
		head = append(head, "waits for the operator")
	}
	if st.Approvers > 1 && s.Runs {
		head = append(head, fmt.Sprintf("%d approvers", st.Approvers))
	}
	switch st.RTO {
	case runbooks.RTOStart:
		head = append(head, "RTO clock starts")
	case runbooks.RTOStop:
		head = append(head, "RTO clock stops")
	}
	num := fmt.Sprintf("%*d", numw, s.Index)
	hl := planWrap(strings.Join(head, " · "), planWidth-indent)
	pad := strings.Repeat(" ", indent)
	for i, l := range hl {
		if i == 0 {
			pr.line("  " + num + "  " + l)
		} else {
			pr.line(pad + l)
		}
	}
	if st.Title != st.ID {
		for _, l := range planWrap(st.Title, planWidth-indent) {
			pr.line(pad + l)
		}
	}
	if !s.Runs {
		pr.field(indent, "skipped", planLabelWidth, s.SkipReason)
	}
	if st.Description != "" {
		pr.field(indent, "about", planLabelWidth, st.Description)
	}
	for _, f := range planDetails(st) {
		pr.field(indent, f[0], planLabelWidth, f[1])
	}
	// A step skipped for its own modes or skip_in already says so above.
	if len(st.Modes) > 0 && (s.Runs || !strings.HasPrefix(s.SkipReason, "runs only in")) {
		pr.field(indent, "modes", planLabelWidth, "runs only in "+strings.Join(st.Modes, ", "))
	}
	if len(st.SkipIn) > 0 && (s.Runs || !strings.HasPrefix(s.SkipReason, "skip_in")) {
		pr.field(indent, "skip in", planLabelWidth, strings.Join(st.SkipIn, ", "))
	}
	if st.Timeout > 0 {
		pr.field(indent, "limit", planLabelWidth, "the whole step may take "+planDur(st.Timeout)+", retries excepted")
	}
	if f := planFailure(st); f != "" {
		pr.field(indent, "failure", planLabelWidth, f)
	}
}

// planFailure describes a step's failure policy when it is not the default.
func planFailure(st *runbooks.Step) string {
	var parts []string
	if st.Retries > 0 {
		parts = append(parts, planRetries(st.Retries, st.RetryDelay))
	}
	switch st.OnFailure {
	case runbooks.OnFailureAsk:
		parts = append(parts, "then asks what to do (with --auto-approve: aborts the run)")
	case runbooks.OnFailureAbort:
		parts = append(parts, "then aborts the run")
	case runbooks.OnFailureContinue:
		parts = append(parts, "then the run continues with the next step")
	}
	if len(parts) == 1 && st.Retries == 0 {
		return strings.TrimPrefix(parts[0], "then ")
	}
	return strings.Join(parts, "; ")
}

// planRetries says when the automatic retries happen: the delay doubles.
func planRetries(n int, delay time.Duration) string {
	var waits []string
	for i := 0; i < n && i < 4; i++ {
		waits = append(waits, planDur(delay<<i))
	}
	if n > 4 {
		waits = append(waits, "…")
	}
	if n == 1 {
		return "1 automatic retry, after " + waits[0]
	}
	return fmt.Sprintf("%d automatic retries: after %s", n, strings.Join(waits, ", then "))
}

// planDetails are the kind-specific lines of a step: label, text.
func planDetails(st *runbooks.Step) [][2]string {
	var out [][2]string
	add := func(label, text string) { out = append(out, [2]string{label, text}) }
	switch st.Kind {
	case runbooks.KindManual:
		add("do", st.Manual.Text)
		for i, item := range st.Manual.Checklist {
			label := ""
			if i == 0 {
				label = "tick"
			}
			add(label, "[ ] "+item)
		}
		if st.Manual.Record {
			add("record", "the operator types an answer, kept in the audit trail")
		}
	case runbooks.KindCheck:
		add("expect", planProbe(st.Check))
		add("timeout", planDur(st.Check.Timeout)+" per probe")
	case runbooks.KindShutdown:
		s := st.Shutdown
		add("stop", planStepTargets(st)+", one at a time, in this order")
		if s.Force {
			add("timeout", planDur(s.Timeout)+" per domain, then it is forced off")
		} else {
			add("timeout", planDur(s.Timeout)+" per domain, then the step fails (force: false)")
		}
	case runbooks.KindStart:
		s := st.Start
		switch {
		case s.Glob != "" || s.All:
			add("start", planStepTargets(st)+", one by one")
		case len(s.Groups) == 1 && len(s.Groups[0]) == 1:
			add("start", planStepTargets(st))
		case planSingletons(s.Groups):
			add("start", planStepTargets(st)+", one by one, in this order")
		default:
			add("start", "at "+s.Site+", group by group, each group together:")
			for i, g := range s.Groups {
				add("", fmt.Sprintf("%d. %s", i+1, strings.Join(g, ", ")))
			}
		}
		if s.MaxParallel > 0 {
			add("parallel", fmt.Sprintf("at most %d at once", s.MaxParallel))
		}
		until := "running"
		if s.Wait == "agent" {
			until = "the guest agent answers"
		}
		add("until", until+", at most "+planDur(s.Timeout)+" per domain")
	case runbooks.KindDestroy:
		add("destroy", planStepTargets(st)+": forced off, no graceful shutdown")
	case runbooks.KindSuspend:
		add("pause", planStepTargets(st))
	case runbooks.KindResume:
		add("resume", planStepTargets(st))
	case runbooks.KindUndefine:
		add("remove", "the definitions of "+planStepTargets(st)+" (disks are kept)")
	case runbooks.KindDefine:
		d := st.Define
		if d.CopyFrom != "" {
			add("define", fmt.Sprintf("%s at %s, copying the definitions from %s", strings.Join(d.Domains, ", "), d.Site, d.CopyFrom))
		} else {
			add("define", fmt.Sprintf("at %s, from %s", d.Site, strings.Join(d.XML, ", ")))
		}
	case runbooks.KindSnapshot:
		if st.Snapshot.Action == runbooks.SnapshotRevert {
			add("snapshot", fmt.Sprintf("revert %s to %s", planStepTargets(st), st.Snapshot.Name))
		} else {
			add("snapshot", fmt.Sprintf("%s %s of %s", st.Snapshot.Action, st.Snapshot.Name, planStepTargets(st)))
		}
	case runbooks.KindAutostart:
		on := "off"
		if st.Autostart.Enabled {
			on = "on"
		}
		add("autostart", on+" for "+planStepTargets(st))
	case runbooks.KindExec:
		e := st.Exec
		if e.Shell {
			add("shell", strings.Join(e.Command, " "))
		} else {
			add("run", planShellQuote(e.Command))
		}
		if e.Dir != "" {
			add("dir", e.Dir)
		}
		for i, k := range planSortedKeys(e.Env) {
			label := ""
			if i == 0 {
				label = "env"
			}
			add(label, k+"="+e.Env[k])
		}
		for i, k := range planSortedKeys(e.SecretEnv) {
			label := ""
			if i == 0 {
				label = "secret"
			}
			add(label, k+" from the file "+e.SecretEnv[k]+" (never shown or stored)")
		}
		if len(e.Redact) > 0 {
			add("redact", strings.Join(e.Redact, "  "))
		}
		add("timeout", planDur(e.Timeout))
	case runbooks.KindWait:
		w := st.Wait
		if w.Until != nil {
			add("until", planProbe(w.Until))
			add("timeout", planDur(w.Timeout)+", polling every few seconds")
		} else {
			add("wait", planDur(w.Duration))
		}
	}
	return out
}

func planSortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
