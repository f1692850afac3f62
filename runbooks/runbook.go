package runbooks

import (
	"regexp"

	"gopkg.in/yaml.v3"
)

var (
	runbookKeys = []string{"version", "name", "title", "description", "rto", "rpo", "reverse_of", "vars", "sites", "steps"}
	originKeys  = []string{"name", "sha256"}
	siteKeys    = []string{"uri", "uris", "role", "max_per_host"}
	roles       = []string{string(RolePrimary), string(RoleSecondary)}
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
	// Vars first, so that every other value may use them.
	if f.has("vars") {
		p.parseVars(f.val["vars"], rb)
	}
	if name, n := p.str(f, "name", "name"); n != nil && name != "" && !namePattern.MatchString(name) {
		p.errf(n, "name %q must be lowercase letters, digits, '-', '_' or '.'", name)
	} else {
		rb.Name = name
	}
	rb.Title, _ = p.str(f, "title", "title")
	rb.Description, _ = p.str(f, "description", "description")
	rb.RTO = p.duration(f, "rto", "rto")
	rb.RPO = p.duration(f, "rpo", "rpo")
	if f.has("reverse_of") {
		rb.ReverseOf = p.origin(f.val["reverse_of"], f.key["reverse_of"])
	}
	if f.has("sites") {
		p.sites(f.val["sites"], rb)
		assignRoles(rb)
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
	if n.Kind == yaml.SequenceNode && len(n.Content) > 0 {
		p.siteNames(n, rb)
		return
	}
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		p.errf(n, "sites must map each site name to its uri, for example \"primary: {uri: qemu+ssh://host/system}\", or list the names of sites whose URIs are in repli's config: \"sites: [primary, secondary]\"")
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.resolve(n.Content[i])
		if k == nil {
			return
		}
		if k.Tag == "!!merge" {
			p.errf(k, "merge keys (<<) are not supported; repeat the keys or use an alias for a whole value")
			continue
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
		if v := p.resolve(n.Content[i+1]); v != nil && v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			// "primary:" with nothing: a site named here, its URI in the config.
			rb.Sites = append(rb.Sites, &Site{Name: k.Value, Pos: posOf(k)})
			continue
		}
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
		}
		// Neither uri nor uris: the URI comes from repli's config (sites:
		// NAME: {uri: …}); the command that connects says so if it has none.
		p.sitePassword(sf, site, what)
		if r, rn := p.str(sf, "role", what+" role"); rn != nil {
			if !contains(roles, r) {
				p.errf(rn, "%s: role must be primary or secondary, not %q%s", what, r, suggest(r, roles))
			}
			site.Role = Role(r)
		}
		site.MaxPerHost = p.integer(sf, "max_per_host", what+" max_per_host", 1, 1000)
		rb.Sites = append(rb.Sites, site)
	}
}

// siteNames reads the list form, "sites: [primary, secondary]": names only,
// each site's URI is in repli's config.
func (p *parser) siteNames(n *yaml.Node, rb *Runbook) {
	seen := map[string]int{}
	for _, e := range n.Content {
		e = p.resolve(e)
		if e == nil {
			return
		}
		if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
			p.errf(e, "each entry of the sites list is a site name, not %s; to give a site's uri in the runbook, write sites as a mapping: \"primary: {uri: qemu+ssh://host/system}\"", describe(e))
			continue
		}
		if !idPattern.MatchString(e.Value) {
			p.errf(e, "site name %s must be lowercase letters, digits, '-', '_' or '.'", describe(e))
			continue
		}
		if line, dup := seen[e.Value]; dup {
			p.errf(e, "duplicate site %q (first at line %d)", e.Value, line)
			continue
		}
		seen[e.Value] = e.Line
		rb.Sites = append(rb.Sites, &Site{Name: e.Value, Pos: posOf(e)})
	}
}

// assignRoles makes the site called "primary", else the first site, the
// primary one when no site says its role.
func assignRoles(rb *Runbook) {
	explicit := false
	for _, s := range rb.Sites {
		explicit = explicit || s.Role != ""
	}
	if explicit {
		for _, s := range rb.Sites {
			if s.Role == "" {
				s.Role = RoleSecondary
			}
		}
		return
	}
	if len(rb.Sites) == 0 {
		return
	}
	primary := rb.Sites[0]
	if s := rb.Site("primary"); s != nil {
		primary = s
	}
	for _, s := range rb.Sites {
		if s.Role == "" {
			s.Role = RoleSecondary
		}
	}
	primary.Role = RolePrimary
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

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// origin reads reverse_of: the name and SHA-256 of the runbook this one is
// the way back of.
func (p *parser) origin(n, key *yaml.Node) *Origin {
	const what = "reverse_of"
	of := p.mapping(n, what, originKeys...)
	if of == nil {
		return nil
	}
	p.required(of, what, originKeys...)
	o := &Origin{Pos: posOf(key)}
	if name, nn := p.str(of, "name", what+" name"); nn != nil && name != "" && !namePattern.MatchString(name) {
		p.errf(nn, "reverse_of name %q must be a runbook name: lowercase letters, digits, '-', '_' or '.'", name)
	} else {
		o.Name = name
	}
	if sum, sn := p.str(of, "sha256", what+" sha256"); sn != nil && !sha256Hex.MatchString(sum) {
		p.errf(sn, "reverse_of sha256 must be the 64 lowercase hex digits of the forward runbook's SHA-256 (repli reverse writes it), not %q", sum)
	} else {
		o.SHA256 = sum
	}
	return o
}
