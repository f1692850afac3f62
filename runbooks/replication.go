package runbooks

import (
	"os/exec"
	"regexp"

	"gopkg.in/yaml.v3"
)

// The keys that tie an exec or a check to replication: the site an exec
// concerns, and where the run's recovery point comes from (RPO measured).

// recoveryPoints are the values of exec's recovery_point.
var recoveryPoints = []string{"stdout"}

// execEstate reads the keys that tie an exec to the estate: site (the site
// the command concerns, so that disaster mode skips it when that site is
// lost) and recovery_point; and warns when it runs a replication tool this
// machine lacks.
func (p *parser) execEstate(f *fields, rb *Runbook, e *Exec, what string) {
	e.Site = p.siteRef(f, "site", rb, what)
	if rp, rn := p.str(f, "recovery_point", what+" recovery_point"); rn != nil {
		if !contains(recoveryPoints, rp) {
			p.errf(rn, "%s: recovery_point must be stdout (the command prints an RFC 3339 time on its last line), not %q", what, rp)
		}
		e.RecoveryPoint = rp
	}
	p.toolOnPath(f.node, e, what)
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
