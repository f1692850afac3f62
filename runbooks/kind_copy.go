package runbooks

import (
	"fmt"
	"strings"
	"time"

	"github.com/repli-dr/repli/internal/textfmt"
	"gopkg.in/yaml.v3"
)

// KindCopy copies storage volumes from one site to the other through
// libvirt itself: a final replication pass for an estate without a
// replication tool of its own.
const KindCopy Kind = "copy"

// Copy copies storage volumes from the site From to the site To, through
// the two libvirt connections (download from one, upload to the other).
type Copy struct {
	From string
	To   string
	// Volumes are the volumes to copy, in order: a pool/name pair, or
	// every disk of a domain (found at From).
	Volumes []VolumeSpec
	// Overwrite lets the copy write over a volume that exists at To
	// already; without it (target: create) the copy creates the volume
	// and refuses to write over one it did not create.
	Overwrite bool
	// Verify is how the copy is checked afterwards: "sha256" (the target
	// is read back and its SHA-256 compared with the source's, computed
	// while streaming) or "none".
	Verify  string
	Timeout time.Duration
}

// VolumeSpec names volumes to copy: Pool and Name, or Domain (its disks).
type VolumeSpec struct {
	Pool   string
	Name   string
	Domain string
	Pos    Pos
}

// String renders the spec for plans and logs.
func (v VolumeSpec) String() string {
	if v.Domain != "" {
		return "disks of " + v.Domain
	}
	return v.Pool + "/" + v.Name
}

// Copy verifications, and what a copy does to an existing target volume.
const (
	VerifySHA256        = "sha256"
	VerifyNone          = "none"
	CopyTargetCreate    = "create"
	CopyTargetOverwrite = "overwrite"

	DefaultCopyTimeout = 4 * time.Hour
)

var (
	copyKeys     = []string{"from", "to", "volumes", "target", "verify", "timeout"}
	volumeKeys   = []string{"pool", "name", "domain"}
	copyVerifies = []string{VerifySHA256, VerifyNone}
	copyTargets  = []string{CopyTargetCreate, CopyTargetOverwrite}
)

func init() {
	RegisterKind(KindSpec{
		Name: KindCopy,
		Keys: copyKeys,
		Parse: func(p *parser, f *fields, rb *Runbook, st *Step, what string) {
			st.Body = p.copyStep(f.val[string(KindCopy)], rb, what, what+" copy")
		},
		Schema: func() (any, map[string]any) {
			return ref("copy"), map[string]any{"copy": copySchema(), "volume": volumeSchema()}
		},
		Docs: map[string]any{
			"copy.from": withVar(obj{"type": "string", "pattern": idPattern.String()}, "The site the volumes are read from."),
			"copy.to":   withVar(obj{"type": "string", "pattern": idPattern.String()}, "The site the volumes are written to."),
			"copy.volumes": obj{"description": "The volumes to copy: {pool: P, name: N} for one volume, {domain: D} for every disk of a domain (as defined at from). The target volume has the same pool and name.",
				"type": "array", "minItems": 1, "items": ref("volume")},
			"copy.target":   enumOf("create (default): create each target volume, refusing to write over one that exists; overwrite: write over it (same size only).", strs(copyTargets)),
			"copy.verify":   enumOf("sha256 (default): read the target back after the copy and compare its SHA-256 with the source's, computed while streaming; none: no check (the copy then takes half the time).", strs(copyVerifies)),
			"copy.timeout":  withVar(ref("duration"), "How long the whole copy may take. Default 4h."),
			"volume.pool":   described("The storage pool, the same name at both sites.", "text"),
			"volume.name":   described("The volume's name in the pool.", "text"),
			"volume.domain": described("A domain whose every disk is copied (each disk must be a volume of a storage pool).", "text"),
		},
		Targets:        func(st *Step) []Target { return CopyOf(st).targets() },
		Sites:          func(st *Step) []string { return []string{CopyOf(st).From, CopyOf(st).To} },
		Describe:       describeCopy,
		Details:        detailsCopy,
		DefaultTimeout: DefaultCopyTimeout,
		Timeout:        func(st *Step) time.Duration { return CopyOf(st).Timeout },
		Harm:           "overwrites volumes",
		Destructive:    func(st *Step) bool { return CopyOf(st).Overwrite },
		// The copy reads the disks of the domains it names wherever they
		// stand; a volume that changes under it fails the size check.
		Precondition: NoPrecondition,
	})
}

// CopyOf returns the body of a copy step (nil for a step of another kind).
func CopyOf(st *Step) *Copy {
	c, _ := st.Body.(*Copy)
	return c
}

func describeCopy(st *Step) string {
	c := CopyOf(st)
	vols := make([]string, len(c.Volumes))
	for i, v := range c.Volumes {
		vols[i] = v.String()
	}
	return fmt.Sprintf("copy %s from %s to %s", strings.Join(vols, ", "), c.From, c.To)
}

func detailsCopy(st *Step) [][2]string {
	c := CopyOf(st)
	var out [][2]string
	for i, v := range c.Volumes {
		out = append(out, [2]string{firstLabel(i, "copy"), v.String() + ", " + c.From + " → " + c.To})
	}
	target := "creates each volume; refuses one that exists (target: create)"
	if c.Overwrite {
		target = "writes over a volume that exists (target: overwrite)"
	}
	verify := "reads each volume back and compares SHA-256"
	if c.Verify == VerifyNone {
		verify = "none (verify: none)"
	}
	return append(out, [2]string{"target", target}, [2]string{"verify", verify},
		[2]string{"timeout", textfmt.Spelled(c.Timeout) + " for the whole copy"},
		[2]string{"rpo", "the start of each copy is a recovery point"})
}

// copySchema is the schema of a copy step's body.
func copySchema() obj {
	return obj{
		"description":          "Copy storage volumes from one site to the other through libvirt (download, upload), with progress, throughput and checksums recorded.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"from", "to", "volumes"},
		"properties":           props("copy", copyKeys),
	}
}

// volumeSchema is the schema of one entry of a copy's volumes.
func volumeSchema() obj {
	return obj{
		"description":          "A volume to copy: {pool: P, name: N}, or {domain: D} for every disk of a domain.",
		"type":                 "object",
		"additionalProperties": false,
		"properties":           props("volume", volumeKeys),
		"oneOf": []any{
			obj{"required": []any{"pool", "name"}, "properties": obj{"domain": forbidden}},
			obj{"required": []any{"domain"}, "properties": obj{"pool": forbidden, "name": forbidden}},
		},
	}
}

// targets are the domains whose disks are copied, at the source site
// (none when the copy names volumes only); Sites adds both sites.
func (c *Copy) targets() []Target {
	src := Target{Site: c.From}
	for _, v := range c.Volumes {
		if v.Domain != "" && !contains(src.Domains, v.Domain) {
			src.Domains = append(src.Domains, v.Domain)
		}
	}
	if len(src.Domains) == 0 {
		return nil
	}
	return []Target{src}
}

func (p *parser) copyStep(body *yaml.Node, rb *Runbook, what, mwhat string) *Copy {
	c := &Copy{Verify: VerifySHA256, Timeout: DefaultCopyTimeout}
	cf := p.mapping(body, mwhat, copyKeys...)
	if cf == nil {
		return c
	}
	p.required(cf, what, "from", "to", "volumes")
	c.From = p.siteRef(cf, "from", rb, what)
	c.To = p.siteRef(cf, "to", rb, what)
	if c.From != "" && c.From == c.To {
		p.errf(cf.val["to"], "%s copies from the site it copies to; from and to must be two sites", what)
	}
	if t, tn := p.str(cf, "target", what+" target"); tn != nil {
		if !contains(copyTargets, t) {
			p.errf(tn, "%s: target must be create or overwrite, not %q%s", what, t, suggest(t, copyTargets))
		}
		c.Overwrite = t == CopyTargetOverwrite
	}
	if v, vn := p.str(cf, "verify", what+" verify"); vn != nil {
		if !contains(copyVerifies, v) {
			p.errf(vn, "%s: verify must be sha256 or none, not %q%s", what, v, suggest(v, copyVerifies))
		}
		c.Verify = v
	}
	c.Timeout = p.durationOr(cf, "timeout", what+" timeout", c.Timeout)
	n := p.resolve(cf.val["volumes"])
	if n == nil {
		return c
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errf(n, "%s volumes must be a non-empty list of {pool: P, name: N} or {domain: D}", what)
		return c
	}
	seen := map[string]*yaml.Node{}
	for _, vn := range n.Content {
		vf := p.mapping(vn, what+" volume", volumeKeys...)
		if vf == nil {
			continue
		}
		v := VolumeSpec{Pos: posOf(vf.node)}
		switch {
		case vf.has("domain") && (vf.has("pool") || vf.has("name")):
			p.errf(vf.key["domain"], "%s: a volume is {pool, name} or {domain}, not both", what)
			continue
		case vf.has("domain"):
			v.Domain, _ = p.str(vf, "domain", what+" volume domain")
		default:
			p.required(vf, what+" volume", "pool", "name")
			v.Pool, _ = p.str(vf, "pool", what+" volume pool")
			v.Name, _ = p.str(vf, "name", what+" volume name")
			if strings.Contains(v.Name, "/") {
				p.errf(vf.val["name"], "%s: volume name %q is a name in the pool, not a path", what, v.Name)
			}
		}
		if first, dup := seen[v.String()]; dup {
			p.errf(vf.node, "%s names %s twice (first at %d:%d)", what, v, first.Line, first.Column)
			continue
		}
		seen[v.String()] = vf.node
		c.Volumes = append(c.Volumes, v)
	}
	return c
}
