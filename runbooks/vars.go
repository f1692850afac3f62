package runbooks

import (
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	varRef     = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	varOnly    = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
	varNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	escapedRef = "$${"
)

// parseVars reads the runbook's vars: name → text, or name → list of text.
func (p *parser) parseVars(n *yaml.Node, rb *Runbook) {
	n = p.resolve(n)
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errf(n, "vars must map names to values, not %s", describe(n))
		return
	}
	rb.Vars = map[string]Var{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.resolve(n.Content[i]), p.resolve(n.Content[i+1])
		if k == nil || v == nil {
			return
		}
		if k.Tag == "!!merge" {
			p.errf(k, "merge keys (<<) are not supported; repeat the keys or use an alias for a whole value")
			continue
		}
		if k.Kind != yaml.ScalarNode || !varNameRE.MatchString(k.Value) {
			p.errf(k, "var name %s must be letters, digits and _ (not starting with a digit)", describe(k))
			continue
		}
		if _, dup := rb.Vars[k.Value]; dup {
			p.errf(k, "var %q is defined twice", k.Value)
			continue
		}
		vr := Var{Name: k.Value, Pos: posOf(k)}
		switch {
		case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
			if varRef.MatchString(v.Value) {
				p.errf(v, "var %s refers to another var; vars hold plain values", k.Value)
				// Keep it, as written, so its uses do not add "unknown var".
			}
			p.controlChars(v, "var "+k.Value)
			vr.Value = v.Value
		case v.Kind == yaml.SequenceNode:
			vr.IsList = true
			for _, c := range v.Content {
				c = p.resolve(c)
				if c == nil || c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
					p.errf(v, "var %s: each entry must be text", k.Value)
					break
				}
				vr.List = append(vr.List, c.Value)
			}
		default:
			p.errf(v, "var %s must be text or a list of text, not %s", k.Value, describe(v))
			continue
		}
		if f, ok := p.secretFiles[k.Value]; ok {
			if vr.IsList {
				p.errf(k, "var %s is a list; --secret-var takes a var holding one value", k.Value)
			}
			vr = Var{Name: k.Value, Pos: vr.Pos, Secret: true, SecretFile: f}
			rb.Vars[k.Value] = vr
			continue
		}
		if o, ok := p.overrides[k.Value]; ok {
			vr.Value, vr.List = o, nil
			if vr.IsList {
				for _, item := range strings.Split(o, ",") {
					if item = strings.TrimSpace(item); item != "" {
						vr.List = append(vr.List, item)
					}
				}
			}
		}
		rb.Vars[k.Value] = vr
	}
	p.vars = rb.Vars
}

// expand substitutes ${name} in a scalar; $${ stands for a literal ${.
func (p *parser) expand(n *yaml.Node, s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	const placeholder = "\x00lit\x00"
	s = strings.ReplaceAll(s, escapedRef, placeholder)
	s = varRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := p.vars[name]
		switch {
		case !ok:
			p.errf(n, "unknown var %q%s", name, suggest(name, p.varNames()))
			return ref
		case v.IsList:
			p.errf(n, "var %q is a list; use it alone as a whole list value (domains: ${%s})", name, name)
			return ref
		case v.Secret:
			p.errf(n, "var %q holds a secret (--secret-var), passed only as a whole env value of an exec step (env: {NAME: ${%s}}); read it from the environment there", name, name)
			return ref
		}
		return v.Value
	})
	return strings.ReplaceAll(s, placeholder, "${")
}

// isListVar reports whether s is exactly a reference to a list var.
func (p *parser) isListVar(s string) bool {
	m := varOnly.FindStringSubmatch(s)
	return m != nil && p.vars[m[1]].IsList
}

func (p *parser) varNames() []string {
	out := make([]string, 0, len(p.vars))
	for k := range p.vars {
		out = append(out, k)
	}
	sort.Strings(out) // suggestions must not depend on map order
	return out
}
