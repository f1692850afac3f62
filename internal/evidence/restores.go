package evidence

import (
	"path/filepath"
	"strings"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/report"
)

// backupSource is how the engine names a recovery point read from a
// checked file (check: {file: …, recovery_point: true}).
const backupSource = "modification time of "

// restores is section 11: one restore per step a secret was handed to
// (engine.SecretSupplied: the key decrypting a backup), with
//   - the backup: the last recovery point read from a checked file before
//     the key was used (its path, and its modification time as "taken at");
//   - its checksum: the last SHA-256 a file check computed before the key
//     was used (engine.FileVerified), of that file when the backup is
//     known; verified when it matched the one expected;
//   - the key: who supplied it, when, where it was read from and its
//     identifier (never the key).
//
// Everything comes from the projection (Secrets, RecoveryPoints, Verified,
// Steps), which holds chained events only: no command's output is read.
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
	for _, v := range m.p.Verified {
		if v.Seq > last.Seq || (r.BackupID != "" && !sameFile(v.File, r.BackupID)) {
			continue // verified after the key was used, or another file
		}
		r.SHA256, r.ChecksumStep, r.Verified = v.SHA256, v.Step, v.Match
	}
	return r
}

// sameFile: the file a check verified is the backup a recovery point names
// (both as the runbook gives them; a relative path matches by its name).
func sameFile(a, b string) bool {
	if filepath.IsAbs(a) && filepath.IsAbs(b) {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return filepath.Base(a) == filepath.Base(b)
}
