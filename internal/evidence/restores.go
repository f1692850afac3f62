package evidence

import (
	"path/filepath"
	"regexp"
	"strings"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/report"
)

// backupSource is how the engine names a recovery point read from a
// checked file (check: {file: …, recovery_point: true}).
const backupSource = "modification time of "

// checksumLine is how a step states the checksum it verified: a line of its
// output "sha256 HEX [FILE]" (the manifest's own line, as the bundled
// hybrid-restore's backup-intact prints it). The step's success is what
// says it matched.
var checksumLine = regexp.MustCompile(`(?m)^sha256 ([0-9a-f]{64})(?:[ \t]+([^\s:]+))?`)

// restores is section 11: one restore per step a secret was handed to
// (engine.SecretSupplied: the key decrypting a backup), with
//   - the backup: the last recovery point read from a checked file before
//     the key was used (its path, and its modification time as "taken at");
//   - its checksum: the last "sha256 HEX [FILE]" line a step printed before
//     the key was used, about that file when it names one; verified when
//     that step succeeded;
//   - the key: who supplied it, when, where it was read from and its
//     identifier (never the key).
//
// Everything comes from the projection (Secrets, RecoveryPoints, Output,
// Steps), which holds chained events only.
func (m *mapper) restores(timeline []report.Step) []report.Restore {
	out := []report.Restore{}
	var order []string
	bySteps := map[string][]*engine.SecretSupplied{}
	for _, s := range m.p.Secrets {
		if bySteps[s.Step] == nil {
			order = append(order, s.Step)
		}
		bySteps[s.Step] = append(bySteps[s.Step], s)
	}
	for _, step := range order {
		r := m.restore(step, bySteps[step])
		for _, s := range timeline {
			if s.ID == step {
				r.Result = s.Result // as the timeline words it
			}
		}
		out = append(out, r)
	}
	return out
}

// restore is one restore: step's secrets, in order (the last attempt's
// are what the restore used).
func (m *mapper) restore(step string, secrets []*engine.SecretSupplied) report.Restore {
	last := secrets[len(secrets)-1]
	r := report.Restore{Step: step, KeyUsedBy: last.Operator, KeyUsedAt: last.At}
	// The secrets handed at the last attempt (one command may read several).
	var ids, sources []string
	for _, s := range secrets {
		if s.Action != last.Action {
			continue
		}
		switch {
		case s.KeyID != "":
			ids = append(ids, s.KeyID+" ("+s.KeyIDKind+")")
		default:
			ids = append(ids, "not recorded ("+s.Env+": a short secret is not fingerprinted)")
		}
		src := s.Env + " from " + s.File
		if s.Var != "" {
			src = s.Env + " from --secret-var " + s.Var + " (" + s.File + ")"
		}
		sources = append(sources, src)
	}
	r.KeyID, r.KeySource = strings.Join(ids, "; "), strings.Join(sources, "; ")
	if sp, ok := m.p.Steps[step]; ok {
		r.Result = string(sp.State)
	}
	for _, rp := range m.p.RecoveryPoints {
		if !strings.HasPrefix(rp.Source, backupSource) || rp.EventMeta().Seq > last.Seq {
			continue
		}
		r.BackupID, r.TakenAt = strings.TrimPrefix(rp.Source, backupSource), rp.At
	}
	if !r.TakenAt.IsZero() {
		r.Age = max(0, r.KeyUsedAt.Sub(r.TakenAt))
	}
	for _, o := range m.p.Output {
		if o.Stream != "stdout" || o.Seq > last.Seq {
			continue
		}
		for _, sm := range checksumLine.FindAllStringSubmatch(o.Text, -1) {
			if sm[2] != "" && r.BackupID != "" && filepath.Base(sm[2]) != filepath.Base(r.BackupID) {
				continue // another file's checksum
			}
			sp := m.p.Steps[o.Step]
			r.SHA256, r.ChecksumStep = sm[1], o.Step
			r.Verified = sp != nil && sp.State == engine.StepSucceeded
		}
	}
	return r
}
