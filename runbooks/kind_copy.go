package runbooks

import (
	"os/exec"
	"regexp"
	"strings"
	"time"

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
	copyKeys       = []string{"from", "to", "volumes", "target", "verify", "timeout"}
	volumeKeys     = []string{"pool", "name", "domain"}
	copyVerifies   = []string{VerifySHA256, VerifyNone}
	copyTargets    = []string{CopyTargetCreate, CopyTargetOverwrite}
	recoveryPoints = []string{"stdout"}
)

func init() {
	Kinds = append(Kinds, KindCopy)
	keyDocs["volume.pool"] = described("The storage pool, the same name at both sites.", "text")
	keyDocs["volume.name"] = described("The volume's name in the pool.", "text")
	keyDocs["volume.domain"] = described("A domain whose every disk is copied (each disk must be a volume of a storage pool).", "text")
	keyDocs["step.copy"] = ref("copy")
	keyDocs["copy.from"] = withVar(obj{"type": "string", "pattern": idPattern.String()}, "The site the volumes are read from.")
	keyDocs["copy.to"] = withVar(obj{"type": "string", "pattern": idPattern.String()}, "The site the volumes are written to.")
	keyDocs["copy.volumes"] = obj{"description": "The volumes to copy: {pool: P, name: N} for one volume, {domain: D} for every disk of a domain (as defined at from). The target volume has the same pool and name.",
		"type": "array", "minItems": 1, "items": volumeSchema()}
	keyDocs["copy.target"] = enumOf("create (default): create each target volume, refusing to write over one that exists; overwrite: write over it (same size only).", strs(copyTargets))
	keyDocs["copy.verify"] = enumOf("sha256 (default): read the target back after the copy and compare its SHA-256 with the source's, computed while streaming; none: no check (the copy then takes half the time).", strs(copyVerifies))
	keyDocs["copy.timeout"] = withVar(ref("duration"), "How long the whole copy may take. Default 4h.")
	keyDocs["exec.site"] = withVar(obj{"type": "string", "pattern": idPattern.String()}, "The site the command concerns: in disaster mode, a command concerning the primary site is skipped (the site is lost).")
	keyDocs["exec.recovery_point"] = enumOf("stdout: the command prints the recovery point (an RFC 3339 time, e.g. the last replicated snapshot's) on its last line; repli measures the RPO achieved from it.", strs(recoveryPoints))
	keyDocs["check.recovery_point"] = obj{"description": "With file: the file's modification time is the recovery point (the backup's time); repli measures the RPO achieved from it.", "type": "boolean"}
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

// moreSites adds to a step's sites those it concerns without targeting
// domains there: both sites of a copy, the site an exec names. In disaster
// mode a step concerning the primary site is skipped (RunsIn).
func (s *Step) moreSites(out []string) []string {
	var more []string
	switch {
	case s.Kind == KindCopy && s.Copy != nil:
		more = []string{s.Copy.From, s.Copy.To}
	case s.Kind == KindExec && s.Exec != nil && s.Exec.Site != "":
		more = []string{s.Exec.Site}
	}
	for _, site := range more {
		if site != "" && !contains(out, site) {
			out = append(out, site)
		}
	}
	return out
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

// execWith reads an exec step, then the keys that tie it to the estate:
// site (the site the command concerns, so that disaster mode skips it when
// that site is lost) and recovery_point.
func (p *parser) execWith(body *yaml.Node, rb *Runbook, what string) *Exec {
	e := p.exec(body, what, what)
	n := p.resolve(body)
	if n == nil || n.Kind != yaml.MappingNode {
		return e
	}
	f := &fields{node: n, val: map[string]*yaml.Node{}, key: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && (k.Value == "site" || k.Value == "recovery_point") {
			f.key[k.Value], f.val[k.Value] = k, n.Content[i+1]
		}
	}
	e.Site = p.siteRef(f, "site", rb, what)
	if rp, rn := p.str(f, "recovery_point", what+" recovery_point"); rn != nil {
		if !contains(recoveryPoints, rp) {
			p.errf(rn, "%s: recovery_point must be stdout (the command prints an RFC 3339 time on its last line), not %q", what, rp)
		}
		e.RecoveryPoint = rp
	}
	p.toolOnPath(f.node, e, what)
	return e
}

// replicationTools are the commands whose absence validate warns about:
// the replication tools the bundled recipes use. Only these, so that a
// runbook written for another machine does not warn about every command.
var replicationTools = []string{"zfs", "zrep", "syncoid", "drbdadm", "rbd", "ceph"}

var shellWord = regexp.MustCompile(`(?:^|[|;&]\s*)([A-Za-z0-9_.-]+)`)

// toolOnPath warns when an exec runs a replication tool that is not on this
// machine's PATH: the final pass would fail at the worst moment.
func (p *parser) toolOnPath(n *yaml.Node, e *Exec, what string) {
	var words []string
	switch {
	case e.Shell && len(e.Command) == 1:
		for _, m := range shellWord.FindAllStringSubmatch(e.Command[0], -1) {
			words = append(words, m[1])
		}
	case len(e.Command) > 0:
		words = []string{e.Command[0]}
	}
	for _, w := range words {
		if !contains(replicationTools, w) {
			continue
		}
		if _, err := exec.LookPath(w); err != nil {
			p.warnf(n, "%s runs %s, which is not on this machine's PATH; install it (or run repli where it is) before the run needs it", what, w)
		}
	}
}

// recoveryPointKey reads check's recovery_point, which goes with file only.
func (p *parser) recoveryPointKey(f *fields, what, probe string) bool {
	if !f.has("recovery_point") {
		return false
	}
	if probe != "file" {
		p.errf(f.key["recovery_point"], "%s: recovery_point goes with file (its modification time is the recovery point), not %s", what, probe)
		return false
	}
	return p.boolean(f, "recovery_point", what+" recovery_point")
}
