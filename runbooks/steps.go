package runbooks

import (
	"path"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	commonStepKeys = []string{"id", "title", "description", "gate", "approvers", "rto", "on_failure", "retries", "retry_delay", "timeout", "modes", "skip_in", "checklist", "record"}
	onFailures     = []string{string(OnFailureAsk), string(OnFailureAbort), string(OnFailureContinue)}
	gates          = []string{string(GateNone), string(GateConfirm), string(GateTyped)}
	rtoMarks       = []string{string(RTOStart), string(RTOStop)}
	snapActions    = []string{string(SnapshotCreate), string(SnapshotRevert), string(SnapshotDelete)}
	startWaits     = []string{"running", "agent"}

	targetKeys    = []string{"site", "domains"}
	checkKeys     = []string{"site", "domains", "state", "agent", "tcp", "file", "max_age", "command", "shell", "timeout", "recovery_point", "sha256"}
	shutdownKeys  = []string{"site", "domains", "timeout", "force", "max_parallel"}
	startKeys     = []string{"site", "domains", "groups", "max_parallel", "wait", "timeout"}
	defineKeys    = []string{"site", "xml", "copy_from", "domains"}
	snapshotKeys  = []string{"site", "domains", "name", "action"}
	autostartKeys = []string{"site", "domains", "enabled"}
	execKeys      = []string{"command", "shell", "timeout", "env", "secret_env", "dir", "redact", "site", "recovery_point"}
	waitKeys      = []string{"duration", "until", "timeout"}
)

// stepKeys is every key a step may have: the common ones and the kinds.
func stepKeys() []string {
	keys := append([]string(nil), commonStepKeys...)
	for _, k := range Kinds {
		keys = append(keys, string(k))
	}
	return keys
}

func (p *parser) step(n *yaml.Node, rb *Runbook, ids map[string]int) *Step {
	f := p.mapping(n, "a step", stepKeys()...)
	if f == nil {
		return nil
	}
	st := &Step{Pos: posOf(f.node)}
	p.required(f, "the step", "id")
	id, idn := p.str(f, "id", "step id")
	switch {
	case idn == nil:
	case !idPattern.MatchString(id):
		p.errf(idn, "step id %q must be lowercase letters, digits, '-', '_' or '.'", id)
	case ids[id] != 0:
		p.errf(idn, "duplicate step id %q (first at line %d)", id, ids[id])
	default:
		ids[id] = idn.Line
	}
	st.ID = id
	what := "step " + id
	if id == "" {
		what = "the step"
	}
	st.Title, _ = p.str(f, "title", what+" title")
	if st.Title == "" {
		st.Title = id
	}
	st.Description, _ = p.str(f, "description", what+" description")

	var kinds []string // in file order
	for i := 0; i+1 < len(f.node.Content); i += 2 {
		if k := f.node.Content[i].Value; contains(Kinds, Kind(k)) && f.key[k] == f.node.Content[i] {
			kinds = append(kinds, k)
		}
	}
	switch len(kinds) {
	case 0:
		if !f.typoOfKind {
			p.errf(f.node, "%s does nothing: give it one of %s", what, kindList())
		}
		return nil
	case 1:
		st.Kind = Kind(kinds[0])
	default:
		p.errf(f.key[kinds[1]], "%s has two kinds (%s and %s); split it into two steps", what, kinds[0], kinds[1])
		return nil
	}
	for _, k := range commonStepKeys {
		if owner := ownerOf(k); f.has(k) && owner != "" && owner != st.Kind {
			p.errf(f.key[k], "%s: %s belongs to %s steps, not %s steps", what, k, owner, st.Kind)
		}
	}
	SpecOf(st.Kind).Parse(p, f, rb, st, what)
	p.stepOptions(f, st, what)
	return st
}

func (p *parser) manual(f *fields, what string) *Manual {
	text, tn := p.str(f, "manual", what+" manual")
	if tn != nil && strings.TrimSpace(text) == "" && len(tn.Value) <= maxStrLength {
		p.errf(tn, "%s: manual needs the instruction for the operator", what)
	}
	m := &Manual{Text: text, Record: p.boolean(f, "record", what+" record")}
	if f.has("checklist") {
		m.Checklist, _ = p.strList(f.val["checklist"], what+" checklist")
	}
	return m
}

func (p *parser) snapshot(body *yaml.Node, rb *Runbook, what string) *Snapshot {
	sf := p.mapping(body, what+" snapshot", snapshotKeys...)
	s := &Snapshot{Action: SnapshotCreate}
	if sf == nil {
		return s
	}
	s.Target = p.target(sf, rb, what)
	p.required(sf, what, "name")
	s.Name, _ = p.str(sf, "name", what+" name")
	if a, an := p.str(sf, "action", what+" action"); an != nil {
		if !contains(snapActions, a) {
			p.errf(an, "%s: action must be create, revert or delete, not %q%s", what, a, suggest(a, snapActions))
		}
		s.Action = SnapshotAction(a)
	}
	return s
}

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// stepOptions reads the keys every kind shares: gate, failure policy, modes.
func (p *parser) stepOptions(f *fields, st *Step, what string) {
	st.Gate = GateNone
	if st.Destructive() {
		st.Gate = GateConfirm // stopping or removing production never happens without a person saying so
	}
	if g, gn := p.str(f, "gate", what+" gate"); gn != nil {
		if !contains(gates, g) {
			p.errf(gn, "%s: unknown gate %q; use none, confirm or typed%s", what, g, suggest(g, gates))
		} else {
			st.Gate = Gate(g)
			if st.Gate == GateNone && st.Destructive() {
				p.warnf(gn, "%s %s without asking anyone (gate: none)", what, SpecOf(st.Kind).Harm)
			}
		}
	}
	st.Approvers = 1
	if f.has("approvers") {
		st.Approvers = p.integer(f, "approvers", what+" approvers", 1, 5)
		if st.Approvers > 1 && st.Gate == GateNone {
			p.errf(f.key["approvers"], "%s needs a gate (confirm or typed) for its %d approvers", what, st.Approvers)
		}
	}
	if r, rn := p.str(f, "rto", what+" rto"); rn != nil {
		if !contains(rtoMarks, r) {
			p.errf(rn, "%s: rto must be start or stop, not %q%s", what, r, suggest(r, rtoMarks))
		} else {
			st.RTO = RTOMark(r)
		}
	}
	if of, on := p.str(f, "on_failure", what+" on_failure"); on != nil {
		if !contains(onFailures, of) {
			p.errf(on, "%s: on_failure must be ask, abort or continue, not %q%s", what, of, suggest(of, onFailures))
		} else {
			st.OnFailure = OnFailure(of)
		}
	}
	st.Retries = p.integer(f, "retries", what+" retries", 0, 100)
	st.RetryDelay = p.durationOr(f, "retry_delay", what+" retry_delay", DefaultRetryDelay)
	st.Timeout = p.durationOr(f, "timeout", what+" timeout", 0)
	st.Modes = p.modeList(f, "modes", what)
	st.SkipIn = p.modeList(f, "skip_in", what)
	if f.has("skip_in") {
		_, nodes := p.strList(f.val["skip_in"], what+" skip_in")
		for i, m := range st.SkipIn {
			if contains(st.Modes, m) && i < len(nodes) {
				p.errf(nodes[i], "%s: mode %q is in both modes and skip_in; remove it from one", what, m)
			}
		}
	}
}

func (p *parser) modeList(f *fields, key, what string) []string {
	if !f.has(key) {
		return nil
	}
	list, nodes := p.strList(f.val[key], what+" "+key)
	for i, m := range list {
		if !contains(Modes, m) {
			p.errf(nodes[i], "%s: unknown mode %q; modes are %s%s", what, m, strings.Join(Modes, ", "), suggest(m, Modes))
		}
	}
	return list
}

func (p *parser) siteRef(f *fields, key string, rb *Runbook, what string) string {
	name, n := p.str(f, key, what+" "+key)
	if n == nil || name == "" {
		return name
	}
	if rb.Site(name) == nil && len(rb.Sites) > 0 {
		p.errf(n, "unknown site %q%s", name, suggest(name, rb.SiteNames()))
	}
	return name
}

var globChars = regexp.MustCompile(`[*?\[]`)

// target reads site and domains.
func (p *parser) target(f *fields, rb *Runbook, what string) Target {
	p.required(f, what, "site", "domains")
	t := p.domainSet(f, what)
	t.Site = p.siteRef(f, "site", rb, what)
	return t
}

// domainSet reads domains: a list, a glob such as "web-*", or "all".
func (p *parser) domainSet(f *fields, what string) Target {
	t := Target{}
	if !f.has("domains") {
		return t
	}
	n := p.resolve(f.val["domains"])
	if n == nil {
		return t
	}
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		if p.isListVar(n.Value) {
			t.Domains, _ = p.strList(n, what+" domains")
			return t
		}
		v := p.expand(n, n.Value)
		switch {
		case v == "all":
			t.All = true
		case globChars.MatchString(v):
			if _, err := path.Match(v, ""); err != nil {
				p.errf(n, "%s: %q is not a valid glob (%v: a [ must be closed by ])", what, v, err)
			}
			t.Glob = v
		default:
			p.errf(n, "%s domains must be a list, a glob such as \"web-*\", or all; not %q", what, v)
		}
		return t
	}
	list, nodes := p.strList(n, what+" domains")
	p.noDuplicates(list, nodes, what)
	t.Domains = list
	return t
}

func (p *parser) noDuplicates(list []string, nodes []*yaml.Node, what string) {
	seen := map[string]*yaml.Node{}
	for i, d := range list {
		if first, dup := seen[d]; dup {
			p.errf(nodes[i], "%s names %q twice (first at %d:%d)", what, d, first.Line, first.Column)
			continue
		}
		seen[d] = nodes[i]
	}
}

func (p *parser) check(body *yaml.Node, rb *Runbook, what, mwhat string) *Check {
	c := &Check{Timeout: DefaultCheckTimeout}
	cf := p.mapping(body, mwhat, checkKeys...)
	if cf == nil {
		return c
	}
	var probes []string
	for _, k := range []string{"state", "agent", "tcp", "file", "command"} {
		if cf.has(k) {
			probes = append(probes, k)
		}
	}
	switch len(probes) {
	case 0:
		p.errf(cf.node, "%s checks nothing: give it state, agent, tcp, file or command", what)
		return c
	case 1:
	default:
		p.errf(cf.key[probes[1]], "%s has both %s and %s; make them two checks", what, probes[0], probes[1])
		return c
	}
	c.Timeout = p.durationOr(cf, "timeout", what+" timeout", c.Timeout)
	c.RecoveryPoint = p.recoveryPointKey(cf, what, probes[0])
	p.sha256Key(cf, c, what, probes[0])
	// Keys that belong to another probe would be silently ignored: refuse them.
	switch probes[0] {
	case "state", "agent":
		p.noKeys(cf, what, probes[0], "max_age", "shell")
	case "tcp":
		p.noKeys(cf, what, "tcp", "max_age", "shell")
	case "file":
		p.noKeys(cf, what, "file", "shell")
	case "command":
		p.noKeys(cf, what, "command", "max_age")
	}
	switch probes[0] {
	case "state", "agent":
		c.Target = p.target(cf, rb, what)
		if probes[0] == "agent" {
			c.Agent = p.boolean(cf, "agent", what+" agent")
			if !c.Agent {
				p.errf(cf.val["agent"], "%s: agent: false checks nothing; remove the check or say agent: true", what)
			}
			break
		}
		state, sn := p.str(cf, "state", what+" state")
		if sn != nil && !contains(CheckStates, state) {
			p.errf(sn, "%s: unknown state %q; use one of running, shutoff, paused%s", what, state, suggest(state, CheckStates))
		}
		c.State = state
	case "tcp":
		p.noKeys(cf, what, "tcp", "site", "domains")
		addr, an := p.str(cf, "tcp", what+" tcp")
		if an != nil && !hostPort.MatchString(addr) {
			p.errf(an, "%s: tcp must be host:port, not %q", what, addr)
		}
		c.TCP = addr
	case "file":
		p.noKeys(cf, what, "file", "site", "domains")
		if !cf.has("sha256") {
			p.required(cf, what, "max_age")
		}
		c.File, _ = p.str(cf, "file", what+" file")
		c.MaxAge = p.durationOr(cf, "max_age", what+" max_age", 0)
	case "command":
		p.noKeys(cf, what, "command", "site", "domains")
		c.Command, c.Shell = p.command(cf, what)
	}
	return c
}

var hostPort = regexp.MustCompile(`^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$`)

// noKeys refuses keys that do not go with a probe.
func (p *parser) noKeys(f *fields, what, probe string, keys ...string) {
	for _, k := range keys {
		if f.has(k) {
			p.errf(f.key[k], "%s: %s does not go with %s", what, k, probe)
		}
	}
}

func (p *parser) command(f *fields, what string) ([]string, bool) {
	shell := p.boolean(f, "shell", what+" shell")
	n := p.resolve(f.val["command"])
	if n == nil {
		return nil, shell
	}
	if n.Kind == yaml.ScalarNode && p.isListVar(n.Value) {
		if shell {
			p.errf(n, "%s: with shell: true, command is one line of shell written in the runbook, not a list var; make the var an argument list and drop shell: true", what)
			return nil, shell
		}
		list, _ := p.strList(n, what+" command")
		return list, shell
	}
	if n.Kind == yaml.ScalarNode {
		if !shell {
			p.errf(n, "%s: command is a list of arguments, e.g. [pg_restore, -d, app, dump.sql]; for a shell line, say shell: true", what)
			return nil, shell
		}
		return p.shellLine(n, what)
	}
	if shell {
		c := p.resolve(n)
		if c != nil && c.Kind == yaml.SequenceNode && len(c.Content) == 1 {
			if line := p.resolve(c.Content[0]); line != nil && line.Kind == yaml.ScalarNode && line.Tag != "!!null" {
				return p.shellLine(line, what)
			}
		}
		p.errf(n, "%s: with shell: true, command is one line of shell", what)
		return nil, shell
	}
	list, _ := p.strList(n, what+" command")
	return list, shell
}

// shellLine reads a shell line: its vars are substituted as quoted words.
func (p *parser) shellLine(n *yaml.Node, what string) ([]string, bool) {
	if len(n.Value) > maxStrLength {
		p.errf(n, "%s command is longer than %d KiB", what, maxStrLength>>10)
		return nil, true
	}
	p.controlChars(n, what+" command")
	if m := varOnly.FindStringSubmatch(strings.TrimSpace(n.Value)); m != nil {
		if v, ok := p.vars[m[1]]; ok && !v.IsList && !v.Secret {
			p.errAt(p.refPos(n, m[0], 0), "%s: the whole shell line is var %s; repli quotes a var as one word, so sh would look for a command named by its whole value. Make %s a list of arguments ([rsync, -a, src/, dst/]) and drop shell: true", what, m[0], m[1])
			return nil, true
		}
	}
	return []string{p.expandShell(n, what, n.Value)}, true
}

func (p *parser) start(body *yaml.Node, rb *Runbook, what, mwhat string) *Start {
	s := &Start{Timeout: DefaultStartTimeout, Wait: "running"}
	sf := p.mapping(body, mwhat, startKeys...)
	if sf == nil {
		return s
	}
	p.required(sf, what, "site")
	s.Site = p.siteRef(sf, "site", rb, what)
	switch {
	case sf.has("groups") && sf.has("domains"):
		p.errf(sf.key["domains"], "%s has both groups and domains; use one", what)
	case sf.has("domains"):
		t := p.domainSet(sf, what)
		s.Glob, s.All, s.Listed = t.Glob, t.All, true
		for _, d := range t.Domains {
			s.Groups = append(s.Groups, []string{d})
		}
	case sf.has("groups"):
		s.Groups = p.groupList(sf.val["groups"], what)
	default:
		p.errf(sf.node, "%s needs groups (started in order, each group together) or domains (started one by one)", what)
	}
	s.MaxParallel = p.integer(sf, "max_parallel", what+" max_parallel", 1, 1000)
	if w, wn := p.str(sf, "wait", what+" wait"); wn != nil {
		if !contains(startWaits, w) {
			p.errf(wn, "%s: wait must be running or agent, not %q%s", what, w, suggest(w, startWaits))
		}
		s.Wait = w
	}
	s.Timeout = p.durationOr(sf, "timeout", what+" timeout", s.Timeout)
	return s
}

func (p *parser) groupList(n *yaml.Node, what string) [][]string {
	n = p.resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errf(n, "%s groups must be a non-empty list of lists of domains", what)
		return nil
	}
	var out [][]string
	var all []string
	var allNodes []*yaml.Node
	for i, g := range n.Content {
		list, nodes := p.strList(g, what+" group "+strconv.Itoa(i+1))
		out = append(out, list)
		all = append(all, list...)
		allNodes = append(allNodes, nodes...)
	}
	p.noDuplicates(all, allNodes, what)
	return out
}

func (p *parser) define(body *yaml.Node, rb *Runbook, what, mwhat string) *Define {
	d := &Define{}
	df := p.mapping(body, mwhat, defineKeys...)
	if df == nil {
		return d
	}
	p.required(df, what, "site")
	d.Site = p.siteRef(df, "site", rb, what)
	switch {
	case df.has("xml") && df.has("copy_from"):
		p.errf(df.key["copy_from"], "%s has both xml and copy_from; use one", what)
	case df.has("xml"):
		if df.has("domains") {
			p.errf(df.key["domains"], "%s: the XML files name their domains; domains goes with copy_from", what)
		}
		n := p.resolve(df.val["xml"])
		if n != nil && n.Kind == yaml.ScalarNode {
			x, _ := p.str(df, "xml", what+" xml")
			d.XML = []string{x}
		} else {
			d.XML, _ = p.strList(df.val["xml"], what+" xml")
		}
	case df.has("copy_from"):
		p.required(df, what, "domains")
		d.CopyFrom = p.siteRef(df, "copy_from", rb, what)
		if d.CopyFrom != "" && d.CopyFrom == d.Site {
			p.errf(df.val["copy_from"], "%s copies from the site it defines at", what)
		}
		if df.has("domains") {
			var nodes []*yaml.Node
			d.Domains, nodes = p.strList(df.val["domains"], what+" domains")
			p.noDuplicates(d.Domains, nodes, what)
		}
	default:
		p.errf(df.node, "%s needs xml (a domain XML file) or copy_from (a site to copy the definitions from)", what)
	}
	return d
}

func (p *parser) exec(body *yaml.Node, rb *Runbook, what, mwhat string) *Exec {
	e := &Exec{Timeout: DefaultExecTimeout}
	ef := p.mapping(body, mwhat, execKeys...)
	if ef == nil {
		return e
	}
	p.required(ef, what, "command")
	e.Command, e.Shell = p.command(ef, what)
	e.Timeout = p.durationOr(ef, "timeout", what+" timeout", e.Timeout)
	e.Dir, _ = p.str(ef, "dir", what+" dir")
	secretVars := p.secretEnvVars(ef)
	e.Env = p.strMap(ef, "env", what)
	if n := p.resolve(ef.val["env"]); n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; secretLooking.MatchString(k.Value) && !varRef.MatchString(n.Content[i+1].Value) {
				p.warnf(k, "%s: env %s looks like a secret written in the runbook, which is recorded with every run; read it from a file with secret_env", what, k.Value)
			}
		}
	}
	e.SecretEnv = p.strMap(ef, "secret_env", what)
	if n := p.resolve(ef.val["secret_env"]); n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; e.Env != nil {
				if _, dup := e.Env[k.Value]; dup {
					p.errf(k, "%s sets %s in both env and secret_env", what, k.Value)
				}
			}
		}
	}
	for _, k := range sortedNames(secretVars) {
		if e.SecretEnv == nil {
			e.SecretEnv = map[string]string{}
		}
		if _, dup := e.SecretEnv[k]; dup {
			p.errf(ef.key["env"], "%s sets %s in both env and secret_env", what, k)
		}
		e.SecretEnv[k] = secretVars[k]
	}
	if ef.has("redact") {
		list, nodes := p.strList(ef.val["redact"], what+" redact")
		for i, r := range list {
			if _, err := regexp.Compile(r); err != nil {
				p.errf(nodes[i], "%s: redact `%s` is not a valid regular expression: %v", what, r, err)
			}
		}
		e.Redact = list
	}
	p.execEstate(ef, rb, e, what)
	return e
}

var (
	envName       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	secretLooking = regexp.MustCompile(`(?i)(pass|secret|token|credential|private_?key)`)
)

// secretEnvVars takes out of an exec's env the entries whose value is a
// secret var (env: {PGPASSWORD: ${db_password}}, with --secret-var
// db_password=@FILE): they are passed like secret_env, from the file.
func (p *parser) secretEnvVars(f *fields) map[string]string {
	n := p.resolve(f.val["env"])
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out map[string]string
	kept := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], p.resolve(n.Content[i+1])
		if v != nil && v.Kind == yaml.ScalarNode {
			if m := varOnly.FindStringSubmatch(v.Value); m != nil && p.vars[m[1]].Secret {
				if out == nil {
					out = map[string]string{}
				}
				out[k.Value] = p.vars[m[1]].SecretFile
				continue
			}
		}
		kept = append(kept, n.Content[i], n.Content[i+1])
	}
	if out != nil {
		// A copy without them, so that env reads the others only.
		c := *n
		c.Content = kept
		f.val["env"] = &c
	}
	return out
}

func (p *parser) strMap(f *fields, key, what string) map[string]string {
	if !f.has(key) {
		return nil
	}
	n := p.resolve(f.val[key])
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s %s must map names to values, not %s", what, key, describe(n))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.resolve(n.Content[i]), p.resolve(n.Content[i+1])
		if k == nil || v == nil {
			return nil
		}
		if k.Tag == "!!merge" {
			p.errf(k, "merge keys (<<) are not supported; repeat the keys or use an alias for a whole value")
			continue
		}
		if !envName.MatchString(k.Value) {
			p.errf(k, "%s %s: %q is not an environment variable name", what, key, k.Value)
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errf(k, "%s %s sets %s twice", what, key, k.Value)
			continue
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			p.errf(v, "%s %s %s must be text, not %s", what, key, k.Value, describe(v))
			continue
		}
		out[k.Value] = p.expand(v, v.Value)
	}
	return out
}

func (p *parser) wait(body *yaml.Node, rb *Runbook, what, mwhat string) *Wait {
	w := &Wait{Timeout: DefaultWaitTimeout}
	n := p.resolve(body)
	if n == nil {
		return w
	}
	if n.Kind == yaml.ScalarNode {
		d, err := ParseDuration(p.expand(n, n.Value))
		if err != nil {
			p.errf(n, "%s: %v (or give until: a check, and a timeout)", what, err)
		}
		w.Duration = d
		return w
	}
	wf := p.mapping(n, mwhat, waitKeys...)
	if wf == nil {
		return w
	}
	switch {
	case wf.has("duration") && wf.has("until"):
		p.errf(wf.key["until"], "%s has both duration and until; use one", what)
	case wf.has("duration"):
		w.Duration = p.durationOr(wf, "duration", what+" duration", 0)
	case wf.has("until"):
		w.Until = p.check(wf.val["until"], rb, what, mwhat+" until")
	default:
		p.errf(wf.node, "%s needs a duration or until: a check to wait for", what)
	}
	w.Timeout = p.durationOr(wf, "timeout", what+" timeout", w.Timeout)
	return w
}
