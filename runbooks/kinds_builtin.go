package runbooks

import "time"

// The built-in kinds are registered by a variable's initialisation, which
// runs before any init function: they come first, in this order (the
// order of messages and of the schema), and a kind declared in a file of
// its own (kind_NAME.go, from its init function) comes after them.
var _ = registerBuiltins()

func registerBuiltins() bool {
	for _, s := range []KindSpec{manualKind, checkKind, shutdownKind, startKind,
		powerKind(KindDestroy, "Force domains off at once, like pulling the plug.", "forces domains off",
			Precondition{Before: "running", After: "shutoff", Soft: true}),
		powerKind(KindSuspend, "Pause domains (their memory is kept).", "",
			Precondition{Before: "running", After: "paused", Refusal: "cannot suspend it"}),
		powerKind(KindResume, "Resume paused domains.", "",
			Precondition{Before: "paused", After: "running", Refusal: "cannot resume it"}),
		defineKind,
		powerKind(KindUndefine, "Remove the definitions of domains (their disks are kept).", "removes domain definitions",
			Precondition{Before: "shutoff", Refusal: "undefines only a shut off domain"}),
		snapshotKind, autostartKind, execKind, waitKind} {
		RegisterKind(s)
	}
	return true
}

func noTargets(*Step) []Target { return nil }

var manualKind = KindSpec{
	Name:     KindManual,
	Keys:     []string{}, // written as a scalar: the instruction
	StepKeys: []string{"checklist", "record"},
	Parse: func(p *parser, f *fields, rb *Runbook, st *Step, what string) {
		st.Manual = p.manual(f, what)
	},
	Schema: func() (any, map[string]any) {
		return obj{"description": "A step a person performs: the instruction for the operator. repli waits until they say it is done.", "type": []any{"string", "number", "boolean"}, "pattern": `\S`, "maxLength": maxStrLength}, nil
	},
	Targets:      noTargets,
	Describe:     describeManual,
	Details:      detailsManual,
	Precondition: NoPrecondition,
}

var checkKind = KindSpec{
	Name: KindCheck,
	Keys: checkKeys,
	Parse: func(p *parser, f *fields, rb *Runbook, st *Step, what string) {
		st.Check = p.check(f.val[string(KindCheck)], rb, what, what)
	},
	Schema: func() (any, map[string]any) { return ref("check"), map[string]any{"check": checkSchema()} },
	Docs: map[string]any{
		"check.state":          enumOf("The domains must all be in this state.", strs(CheckStates)),
		"check.agent":          obj{"description": "The domains' QEMU guest agents must answer.", "const": true},
		"check.tcp":            withVar(obj{"type": "string", "pattern": hostPort.String()}, "A TCP port that must accept a connection, as host:port."),
		"check.file":           described("A local file that must exist and be younger than max_age (a backup, a replication marker), and match sha256 when given.", "text"),
		"check.max_age":        withVar(ref("duration"), "With file: how old the file may be, e.g. 26h."),
		"check.command":        ref("command"),
		"check.shell":          obj{"description": "With command: run command as one line of /bin/sh.", "type": "boolean"},
		"check.timeout":        withVar(ref("duration"), "How long one probe may take. Default 30s."),
		"check.sha256":         sha256Schema(),
		"check.recovery_point": obj{"description": "With file: the file's modification time is the recovery point (the backup's time); repli measures the RPO achieved from it.", "type": "boolean"},
	},
	Targets: func(st *Step) []Target {
		if st.Check.Target.Site != "" {
			return []Target{st.Check.Target}
		}
		return nil
	},
	Describe:       func(st *Step) string { return "check " + probeText(st.Check) },
	Details:        detailsCheck,
	DefaultTimeout: DefaultCheckTimeout,
	Timeout:        func(st *Step) time.Duration { return st.Check.Timeout },
	Precondition:   func(st *Step, _ int) Precondition { return checkPrecondition(st.Check) },
}

// checkPrecondition: a domain a check (or a wait until a check) looks at
// must already be in the state it asserts.
func checkPrecondition(c *Check) Precondition {
	want := c.State
	if c.Agent {
		want = "running"
	}
	if want == "" {
		return Precondition{}
	}
	return Precondition{Before: want, Refusal: "checks that it is " + want}
}

var shutdownKind = KindSpec{
	Name: KindShutdown,
	Keys: shutdownKeys,
	Parse: func(p *parser, f *fields, rb *Runbook, st *Step, what string) {
		sf := p.mapping(f.val[string(KindShutdown)], what+" shutdown", shutdownKeys...)
		s := &Shutdown{Timeout: DefaultShutdownTimeout}
		if sf != nil {
			s.Target = p.target(sf, rb, what)
			s.Timeout = p.durationOr(sf, "timeout", what+" timeout", s.Timeout)
			s.Force = p.boolean(sf, "force", what+" force")
			s.MaxParallel = p.integer(sf, "max_parallel", what+" max_parallel", 1, 1000)
		}
		st.Shutdown = s
	},
	Schema: func() (any, map[string]any) {
		return ref("shutdown"), map[string]any{"shutdown": targetSchema("shutdown", "Stop domains gracefully, one at a time in order (or max_parallel at once), and wait until each is shut off.", shutdownKeys)}
	},
	Docs: map[string]any{
		"shutdown.timeout":      withVar(ref("duration"), "How long to wait for each domain to shut off. Default 5m."),
		"shutdown.force":        obj{"description": "Force a domain off when it has not shut off within timeout; without it the step fails instead.", "type": "boolean"},
		"shutdown.max_parallel": obj{"description": "At most this many domains shut down at once (1 to 1000). Default 1: one at a time, in the order written.", "type": "integer", "minimum": 1, "maximum": 1000},
	},
	Targets: func(st *Step) []Target { return []Target{st.Shutdown.Target} },
	Describe: func(st *Step) string {
		return "shut down " + stepTargetText(st) + ", " + atATime(st.Shutdown.MaxParallel)
	},
	Details:        detailsShutdown,
	DefaultTimeout: DefaultShutdownTimeout,
	Timeout:        func(st *Step) time.Duration { return st.Shutdown.Timeout },
	Harm:           "shuts domains down",
	Precondition: func(*Step, int) Precondition {
		return Precondition{Before: "running", After: "shutoff", Soft: true}
	},
}

var startKind = KindSpec{
	Name: KindStart,
	Keys: startKeys,
	Parse: func(p *parser, f *fields, rb *Runbook, st *Step, what string) {
		st.Start = p.start(f.val[string(KindStart)], rb, what, what)
	},
	Schema: func() (any, map[string]any) { return ref("start"), map[string]any{"start": startSchema()} },
	Docs: map[string]any{
		"start.groups":       obj{"description": "Domains in start order: a list of groups, each a list of domains started together once the group before runs.", "type": "array", "minItems": 1, "items": ref("list")},
		"start.max_parallel": obj{"description": "At most this many domains of a group start at once (1 to 1000). Default: the whole group.", "type": "integer", "minimum": 1, "maximum": 1000},
		"start.wait":         enumOf("What started means: running (libvirt says so, the default) or agent (the guest agent answers).", strs(startWaits)),
		"start.timeout":      withVar(ref("duration"), "How long to wait for each domain to be started. Default 5m."),
	},
	Targets:        func(st *Step) []Target { return []Target{st.Start.Target()} },
	Describe:       describeStart,
	Details:        detailsStart,
	DefaultTimeout: DefaultStartTimeout,
	Timeout:        func(st *Step) time.Duration { return st.Start.Timeout },
	Precondition: func(*Step, int) Precondition {
		return Precondition{Before: "shutoff", Also: []string{"crashed"}, After: "running", Refusal: "cannot start it"}
	},
}

// powerKind declares a kind whose body is a plain target (destroy,
// suspend, resume, undefine): it acts on each domain in turn.
func powerKind(k Kind, doc, harm string, pre Precondition) KindSpec {
	return KindSpec{
		Name: k,
		Keys: targetKeys,
		Parse: func(p *parser, f *fields, rb *Runbook, st *Step, what string) {
			t := Target{}
			if tf := p.mapping(f.val[string(k)], what+" "+string(k), targetKeys...); tf != nil {
				t = p.target(tf, rb, what)
			}
			st.Power = &t
		},
		Schema: func() (any, map[string]any) {
			return described(doc, "domain_target"), map[string]any{"domain_target": targetSchema("target", "Domains at a site.", targetKeys)}
		},
		Targets:  func(st *Step) []Target { return []Target{*st.Power} },
		Describe: func(st *Step) string { return powerWords[k][0] + " " + stepTargetText(st) },
		Details: func(st *Step) [][2]string {
			return [][2]string{{powerWords[k][1], powerWords[k][2] + stepTargetText(st) + powerWords[k][3]}}
		},
		Harm:         harm,
		Precondition: func(*Step, int) Precondition { return pre },
	}
}

var defineKind = KindSpec{
	Name: KindDefine,
	Keys: defineKeys,
	Parse: func(p *parser, f *fields, rb *Runbook, st *Step, what string) {
		st.Define = p.define(f.val[string(KindDefine)], rb, what, what)
	},
	Schema: func() (any, map[string]any) { return ref("define"), map[string]any{"define": defineSchema()} },
	Docs: map[string]any{
		"define.xml":       obj{"description": "Domain XML file(s) to define, relative to the runbook.", "anyOf": []any{obj{"type": "string", "minLength": 1}, ref("list")}},
		"define.copy_from": withVar(obj{"type": "string", "pattern": idPattern.String()}, "Another site to copy the domains' definitions from."),
		"define.domains":   described("With copy_from: the domains whose definitions are copied.", "unique_list"),
	},
	Targets: func(st *Step) []Target {
		t := []Target{{Site: st.Define.Site, Domains: st.Define.Domains}}
		if st.Define.CopyFrom != "" {
			t = append(t, Target{Site: st.Define.CopyFrom, Domains: st.Define.Domains})
		}
		return t
	},
	Describe: describeDefine,
	Details:  detailsDefine,
	// The domains it defines need not exist; the copy's source must.
	Precondition: func(_ *Step, i int) Precondition { return Precondition{MayBeMissing: i == 0} },
}

var snapshotKind = KindSpec{
	Name: KindSnapshot,
	Keys: snapshotKeys,
	Parse: func(p *parser, f *fields, rb *Runbook, st *Step, what string) {
		st.Snapshot = p.snapshot(f.val[string(KindSnapshot)], rb, what)
	},
	Schema: func() (any, map[string]any) {
		return ref("snapshot"), map[string]any{"snapshot": targetSchema("snapshot", "Create, revert to or delete a named snapshot of domains.", snapshotKeys, "name")}
	},
	Docs: map[string]any{
		"snapshot.name":   described("Name of the snapshot.", "text"),
		"snapshot.action": enumOf("create (the default), revert to it, or delete it. revert and delete default to gate: confirm.", strs(snapActions)),
	},
	Targets:     func(st *Step) []Target { return []Target{st.Snapshot.Target} },
	Describe:    describeSnapshot,
	Details:     detailsSnapshot,
	Harm:        "rolls domains back or deletes their snapshots",
	Destructive: func(st *Step) bool { return st.Snapshot.Action != SnapshotCreate },
	// libvirt snapshots a domain in any state.
	Precondition: NoPrecondition,
}

var autostartKind = KindSpec{
	Name: KindAutostart,
	Keys: autostartKeys,
	Parse: func(p *parser, f *fields, rb *Runbook, st *Step, what string) {
		sf := p.mapping(f.val[string(KindAutostart)], what+" autostart", autostartKeys...)
		a := &Autostart{}
		if sf != nil {
			a.Target = p.target(sf, rb, what)
			p.required(sf, what, "enabled")
			a.Enabled = p.boolean(sf, "enabled", what+" enabled")
		}
		st.Autostart = a
	},
	Schema: func() (any, map[string]any) {
		return ref("autostart"), map[string]any{"autostart": targetSchema("autostart", "Turn the domains' autostart on or off.", autostartKeys, "enabled")}
	},
	Docs: map[string]any{
		"autostart.enabled": obj{"description": "true to start the domains when their host boots, false to stop doing so.", "type": "boolean"},
	},
	Targets:      func(st *Step) []Target { return []Target{st.Autostart.Target} },
	Describe:     describeAutostart,
	Details:      detailsAutostart,
	Precondition: NoPrecondition,
}

var execKind = KindSpec{
	Name: KindExec,
	Keys: execKeys,
	Parse: func(p *parser, f *fields, rb *Runbook, st *Step, what string) {
		st.Exec = p.exec(f.val[string(KindExec)], rb, what, what)
	},
	Schema: func() (any, map[string]any) { return ref("exec"), map[string]any{"exec": execSchema()} },
	Docs: map[string]any{
		"exec.command":        ref("command"),
		"exec.shell":          obj{"description": "Run command as one line of /bin/sh instead of an argument list.", "type": "boolean"},
		"exec.timeout":        withVar(ref("duration"), "How long the command may run. Default 10m."),
		"exec.env":            described("Environment variables for the command: NAME: value.", "env"),
		"exec.secret_env":     described("Environment variables read from files: NAME: path. The content is never stored, logged or shown.", "env"),
		"exec.dir":            described("Working directory of the command.", "text"),
		"exec.redact":         obj{"description": "Regular expressions whose matches are masked in the captured output.", "anyOf": []any{obj{"type": "array", "minItems": 1, "items": obj{"type": "string", "minLength": 1, "format": "regex"}}, ref("list_var")}},
		"exec.site":           withVar(obj{"type": "string", "pattern": idPattern.String()}, "The site the command concerns: in disaster mode, a command concerning the primary site is skipped (the site is lost)."),
		"exec.recovery_point": enumOf("stdout: the command prints the recovery point (an RFC 3339 time, e.g. the last replicated snapshot's) on its last line; repli measures the RPO achieved from it.", strs(recoveryPoints)),
	},
	Targets:        noTargets,
	Sites:          func(st *Step) []string { return []string{st.Exec.Site} },
	Describe:       describeExec,
	Details:        detailsExec,
	DefaultTimeout: DefaultExecTimeout,
	Timeout:        func(st *Step) time.Duration { return st.Exec.Timeout },
	Precondition:   NoPrecondition,
}

var waitKind = KindSpec{
	Name: KindWait,
	Keys: waitKeys,
	Parse: func(p *parser, f *fields, rb *Runbook, st *Step, what string) {
		st.Wait = p.wait(f.val[string(KindWait)], rb, what, what)
	},
	Schema: func() (any, map[string]any) {
		return ref("wait"), map[string]any{"wait": waitSchema(), "check": checkSchema()}
	},
	Docs: map[string]any{
		"wait.duration": withVar(ref("duration"), "Pause for this long."),
		"wait.until":    described("Wait until this check passes (polled), at most timeout.", "check"),
		"wait.timeout":  withVar(ref("duration"), "With until: how long to wait at most. Default 30m."),
	},
	Targets: func(st *Step) []Target {
		if st.Wait.Until != nil && st.Wait.Until.Target.Site != "" {
			return []Target{st.Wait.Until.Target}
		}
		return nil
	},
	Describe:       describeWait,
	Details:        detailsWait,
	DefaultTimeout: DefaultWaitTimeout,
	Timeout: func(st *Step) time.Duration {
		if st.Wait.Until != nil {
			return st.Wait.Timeout
		}
		return 0
	},
	Precondition: func(st *Step, _ int) Precondition {
		if u := st.Wait.Until; u != nil && u.State != "" {
			return checkPrecondition(u)
		}
		return Precondition{}
	},
}
