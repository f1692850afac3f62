package runbooks

import (
	"strconv"

	"gopkg.in/yaml.v3"
)

var (
	runbookKeys  = []string{"version", "name", "title", "description", "rto", "sites", "steps"}
	siteKeys     = []string{"uri", "uris"}
	stepKeys     = []string{"id", "title", "gate", "rto", "on_failure", "retries", "retry_delay", "manual", "checklist", "check", "shutdown", "start"}
	onFailures   = []string{string(OnFailureAsk), string(OnFailureAbort), string(OnFailureContinue)}
	checkKeys    = []string{"site", "domains", "state"}
	shutdownKeys = []string{"site", "domains", "timeout", "force"}
	startKeys    = []string{"site", "domains", "groups", "timeout"}
	gates        = []string{string(GateNone), string(GateConfirm), string(GateTyped)}
	rtoMarks     = []string{string(RTOStart), string(RTOStop)}
)

func (p *parser) runbook(root *yaml.Node, rb *Runbook) {
	f := p.mapping(root, "the runbook", runbookKeys...)
	if f == nil {
		return
	}
	p.required(f, "the runbook", "version", "name", "sites", "steps")
	if f.has("version") {
		n := p.resolve(f.val["version"])
		if n != nil && (n.Kind != yaml.ScalarNode || n.Value != "1") {
			p.errf(n, "version must be 1 (the only runbook format this repli knows), not %s", describe(n))
		}
		rb.Version = 1
	}
	if name, n := p.str(f, "name", "name"); n != nil && name != "" && !namePattern.MatchString(name) {
		p.errf(n, "name %q must be lowercase letters, digits, '-', '_' or '.'", name)
	} else {
		rb.Name = name
	}
	rb.Title, _ = p.str(f, "title", "title")
	rb.Description, _ = p.str(f, "description", "description")
	rb.RTO = p.duration(f, "rto", "rto")
	if f.has("sites") {
		p.sites(f.val["sites"], rb)
	}
	if f.has("steps") {
		p.steps(f.val["steps"], rb)
	}
}

func (p *parser) sites(n *yaml.Node, rb *Runbook) {
	n = p.resolve(n)
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		p.errf(n, "sites must map each site name to its uri, for example \"primary: {uri: qemu+ssh://host/system}\"")
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.resolve(n.Content[i])
		if k == nil {
			return
		}
		if k.Kind != yaml.ScalarNode || !idPattern.MatchString(k.Value) {
			p.errf(k, "site name %s must be lowercase letters, digits, '-', '_' or '.'", describe(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			p.errf(k, "duplicate site %q (first at line %d)", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		what := "site " + k.Value
		sf := p.mapping(n.Content[i+1], what, siteKeys...)
		if sf == nil {
			continue
		}
		site := &Site{Name: k.Value, Pos: posOf(k)}
		switch {
		case sf.has("uri") && sf.has("uris"):
			p.errf(sf.key["uris"], "%s has both uri and uris; use uri for one host, uris for several", what)
		case sf.has("uri"):
			site.URI, _ = p.str(sf, "uri", what+" uri")
			site.URIs = []string{site.URI}
		case sf.has("uris"):
			var nodes []*yaml.Node
			site.URIs, nodes = p.strList(sf.val["uris"], what+" uris")
			p.noDuplicates(site.URIs, nodes, what+" uris")
			if len(site.URIs) > 0 {
				site.URI = site.URIs[0]
			}
		default:
			p.errf(sf.node, "%s needs uri (its libvirt URI, e.g. qemu+ssh://kvm1.example/system)", what)
		}
		rb.Sites = append(rb.Sites, site)
	}
}

func (p *parser) steps(n *yaml.Node, rb *Runbook) {
	n = p.resolve(n)
	if n == nil {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "steps must be a list, not %s", describe(n))
		return
	}
	if len(n.Content) == 0 {
		p.errf(n, "steps is empty; a runbook needs at least one step")
		return
	}
	if len(n.Content) > MaxSteps {
		p.errf(n, "more than %d steps; split the runbook", MaxSteps)
		return
	}
	ids := map[string]int{}
	var rtoStart, rtoStop *Step
	for _, sn := range n.Content {
		st := p.step(sn, rb, ids)
		if st == nil {
			continue
		}
		rb.Steps = append(rb.Steps, st)
		switch st.RTO {
		case RTOStart:
			if rtoStart != nil {
				p.errAt(st.Pos, "the RTO clock already starts at step %q (line %d); only one step may say rto: start", rtoStart.ID, rtoStart.Pos.Line)
			} else {
				rtoStart = st
			}
		case RTOStop:
			switch {
			case rtoStop != nil:
				p.errAt(st.Pos, "the RTO clock already stops at step %q (line %d); only one step may say rto: stop", rtoStop.ID, rtoStop.Pos.Line)
			case rtoStart == nil:
				p.errAt(st.Pos, "rto: stop comes before any rto: start; mark the step that begins the outage with rto: start")
			default:
				rtoStop = st
			}
		}
	}
	if rtoStart != nil && rtoStop == nil {
		p.errAt(rtoStart.Pos, "rto: start has no matching rto: stop; mark the step that proves service is back with rto: stop")
	}
}

func (p *parser) step(n *yaml.Node, rb *Runbook, ids map[string]int) *Step {
	f := p.mapping(n, "a step", stepKeys...)
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

	var kinds []string
	for _, k := range Kinds {
		if f.has(string(k)) {
			kinds = append(kinds, string(k))
		}
	}
	switch len(kinds) {
	case 0:
		p.errf(f.node, "%s does nothing: give it one of manual, check, shutdown or start", what)
		return nil
	case 1:
		st.Kind = Kind(kinds[0])
	default:
		p.errf(f.key[kinds[1]], "%s has two kinds (%s and %s); split it into two steps", what, kinds[0], kinds[1])
		return nil
	}
	if f.has("checklist") && st.Kind != KindManual {
		p.errf(f.key["checklist"], "checklist belongs to manual steps, not %s steps", st.Kind)
	}

	switch st.Kind {
	case KindManual:
		text, tn := p.str(f, "manual", what+" manual")
		if tn != nil && text == "" {
			p.errf(tn, "%s: manual needs the instruction for the operator", what)
		}
		st.Manual = &Manual{Text: text}
		if f.has("checklist") {
			st.Manual.Checklist, _ = p.strList(f.val["checklist"], what+" checklist")
		}
	case KindCheck:
		cf := p.mapping(f.val["check"], what+" check", checkKeys...)
		p.required(cf, what+" check", "site", "domains", "state")
		c := &Check{}
		if cf != nil {
			c.Site = p.siteRef(cf, rb, what)
			c.Domains = p.domains(cf, what)
			state, sn := p.str(cf, "state", what+" state")
			if sn != nil && !contains(CheckStates, state) {
				p.errf(sn, "%s: unknown state %q; use one of running, shutoff, paused%s", what, state, suggest(state, CheckStates))
			}
			c.State = state
		}
		st.Check = c
	case KindShutdown:
		sf := p.mapping(f.val["shutdown"], what+" shutdown", shutdownKeys...)
		p.required(sf, what+" shutdown", "site", "domains")
		s := &Shutdown{Timeout: DefaultShutdownTimeout}
		if sf != nil {
			s.Site = p.siteRef(sf, rb, what)
			s.Domains = p.domains(sf, what)
			if d := p.duration(sf, "timeout", what+" timeout"); d > 0 {
				s.Timeout = d
			}
			s.Force = p.boolean(sf, "force", what+" force")
		}
		st.Shutdown = s
	case KindStart:
		sf := p.mapping(f.val["start"], what+" start", startKeys...)
		s := &Start{Timeout: DefaultStartTimeout}
		if sf != nil {
			p.required(sf, what+" start", "site")
			s.Site = p.siteRef(sf, rb, what)
			s.Groups = p.groups(sf, what)
			if d := p.duration(sf, "timeout", what+" timeout"); d > 0 {
				s.Timeout = d
			}
		}
		st.Start = s
	}

	st.Gate = GateNone
	if st.Kind == KindShutdown {
		st.Gate = GateConfirm // stopping production never happens without a person saying so
	}
	if g, gn := p.str(f, "gate", what+" gate"); gn != nil {
		if !contains(gates, g) {
			p.errf(gn, "%s: unknown gate %q; use none, confirm or typed%s", what, g, suggest(g, gates))
		} else {
			st.Gate = Gate(g)
			if st.Gate == GateNone && st.Kind == KindShutdown {
				p.warnf(gn, "%s stops domains without asking anyone (gate: none)", what)
			}
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
	st.RetryDelay = DefaultRetryDelay
	if d := p.duration(f, "retry_delay", what+" retry_delay"); d > 0 {
		st.RetryDelay = d
	}
	if r, rn := p.str(f, "rto", what+" rto"); rn != nil {
		if !contains(rtoMarks, r) {
			p.errf(rn, "%s: rto must be start or stop, not %q%s", what, r, suggest(r, rtoMarks))
		} else {
			st.RTO = RTOMark(r)
		}
	}
	return st
}

func (p *parser) siteRef(f *fields, rb *Runbook, what string) string {
	name, n := p.str(f, "site", what+" site")
	if n == nil || name == "" {
		return name
	}
	if rb.Site(name) == nil && len(rb.Sites) > 0 {
		p.errf(n, "unknown site %q%s", name, suggest(name, rb.SiteNames()))
	}
	return name
}

func (p *parser) domains(f *fields, what string) []string {
	if !f.has("domains") {
		return nil
	}
	list, nodes := p.strList(f.val["domains"], what+" domains")
	p.noDuplicates(list, nodes, what)
	return list
}

func (p *parser) noDuplicates(list []string, nodes []*yaml.Node, what string) {
	seen := map[string]int{}
	for i, d := range list {
		if line, dup := seen[d]; dup {
			p.errf(nodes[i], "%s names %q twice (first at line %d)", what, d, line)
			continue
		}
		seen[d] = nodes[i].Line
	}
}

// groups reads start.groups (a list of lists) or start.domains (each its own
// group, started in order).
func (p *parser) groups(f *fields, what string) [][]string {
	switch {
	case f.has("groups") && f.has("domains"):
		p.errf(f.key["domains"], "%s start has both groups and domains; use one", what)
		return nil
	case f.has("domains"):
		list, nodes := p.strList(f.val["domains"], what+" domains")
		p.noDuplicates(list, nodes, what)
		out := make([][]string, len(list))
		for i, d := range list {
			out[i] = []string{d}
		}
		return out
	case f.has("groups"):
		n := p.resolve(f.val["groups"])
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
	default:
		p.errf(f.node, "%s start needs groups (started in order, each group together) or domains (started one by one)", what)
		return nil
	}
}
