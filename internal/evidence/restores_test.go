package evidence

import (
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/report"
)

// trail numbers events in order, a minute apart, as a journal would.
type trail struct {
	at  time.Time
	evs []engine.Event
}

func (tr *trail) add(evs ...engine.Event) {
	for _, ev := range evs {
		m := ev.EventMeta()
		m.Seq, m.At = int64(len(tr.evs)+1), tr.at.Add(time.Duration(len(tr.evs))*time.Minute)
		tr.evs = append(tr.evs, ev)
	}
}

func (tr *trail) step(id string, st engine.StepState, between ...engine.Event) {
	tr.add(&engine.StepChanged{Step: id, State: engine.StepRunning})
	tr.add(between...)
	tr.add(&engine.StepChanged{Step: id, State: st})
}

const (
	sumA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	sumB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

func restoresOf(t *testing.T, build func(tr *trail)) []report.Restore {
	t.Helper()
	tr := &trail{at: time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)}
	tr.add(&engine.RunStarted{Runbook: "hybrid-restore", Operator: "claire"})
	build(tr)
	p, err := engine.ProgressOf(tr.evs)
	if err != nil {
		t.Fatal(err)
	}
	m := &mapper{p: p}
	return m.restores(nil)
}

func TestRestoresFromTheProjection(t *testing.T) {
	t.Parallel()
	taken := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	secret := func(action int64, op, id string) *engine.SecretSupplied {
		return &engine.SecretSupplied{Step: "decrypt", Action: action, Env: "AGE_KEY", File: "/run/keys/acme.txt", Operator: op, KeyID: id, KeyIDKind: engine.KeyIDAge}
	}
	out := func(step, text string) *engine.OutputCaptured {
		return &engine.OutputCaptured{Step: step, Stream: "stdout", Text: text}
	}
	verified := func(step, file, got, want string) *engine.FileVerified {
		return &engine.FileVerified{Step: step, File: file, SHA256: got, Expected: want, Bytes: 4096, Source: "checksum file " + file + ".sha256, line 1", SumsFile: file + ".sha256", Match: got == want}
	}
	t.Run("a restore, its backup, checksum and key", func(t *testing.T) {
		t.Parallel()
		rs := restoresOf(t, func(tr *trail) {
			tr.step("backup-fresh", engine.StepSucceeded, &engine.RecoveryPoint{Step: "backup-fresh", At: taken, Source: "modification time of /srv/backups/acme/acme.sql.age"})
			tr.step("backup-intact", engine.StepSucceeded,
				verified("backup-intact", "/srv/backups/acme/acme.sql.age", sumA, sumA),
				verified("other-intact", "/srv/backups/acme/other.sql.age", sumB, sumB)) // another file's
			tr.step("decrypt", engine.StepSucceeded, &engine.ActionIntent{Action: 1, Step: "decrypt", Verb: "exec"}, secret(1, "claire", "age1abc"))
			// Verified after the key was used: not the restored backup's.
			tr.step("later", engine.StepSucceeded, verified("later", "/srv/backups/acme/acme.sql.age", sumB, sumB))
		})
		if len(rs) != 1 {
			t.Fatalf("%d restores: %+v", len(rs), rs)
		}
		r := rs[0]
		keyAt := time.Date(2026, 11, 30, 14, 10, 0, 0, time.UTC) // the 11th event
		if r.Step != "decrypt" || r.Result != "succeeded" || r.BackupID != "/srv/backups/acme/acme.sql.age" || !r.TakenAt.Equal(taken) ||
			r.SHA256 != sumA || !r.Verified || r.ChecksumStep != "backup-intact" || r.KeyUsedBy != "claire" || !r.KeyUsedAt.Equal(keyAt) ||
			r.Age != keyAt.Sub(taken) || r.KeyID != "age1abc (age recipient)" || r.KeySource != "AGE_KEY from /run/keys/acme.txt" {
			t.Errorf("restore %+v", r)
		}
	})
	t.Run("checksum mismatch, no recovery point, key tried twice", func(t *testing.T) {
		t.Parallel()
		rs := restoresOf(t, func(tr *trail) {
			tr.step("backup-intact", engine.StepFailed, verified("backup-intact", "acme.sql.age", sumA, sumB))
			tr.add(&engine.StepChanged{Step: "decrypt", State: engine.StepRunning}, &engine.ActionIntent{Action: 1, Step: "decrypt", Verb: "exec"}, secret(1, "claire", "age1old"))
			tr.add(&engine.StepChanged{Step: "decrypt", State: engine.StepFailed})
			tr.add(&engine.StepChanged{Step: "decrypt", State: engine.StepRunning}, &engine.ActionIntent{Action: 2, Step: "decrypt", Verb: "exec"}, secret(2, "bruno", "age1new"))
			tr.add(&engine.StepChanged{Step: "decrypt", State: engine.StepFailed})
		})
		if len(rs) != 1 {
			t.Fatalf("%d restores: %+v", len(rs), rs)
		}
		r := rs[0]
		if r.Verified || r.SHA256 != sumA || r.BackupID != "" || !r.TakenAt.IsZero() || r.Age != 0 || r.KeyUsedBy != "bruno" || r.KeyID != "age1new (age recipient)" || r.Result != "failed" {
			t.Errorf("restore %+v", r)
		}
	})
	t.Run("a secret var, a short secret", func(t *testing.T) {
		t.Parallel()
		rs := restoresOf(t, func(tr *trail) {
			tr.step("load", engine.StepSucceeded, &engine.ActionIntent{Action: 1, Step: "load", Verb: "exec"},
				&engine.SecretSupplied{Step: "load", Action: 1, Env: "PGPASSWORD", Var: "db_password", File: "/run/keys/pw", Operator: "claire", KeyIDKind: engine.KeyIDNone})
		})
		if len(rs) != 1 || rs[0].Step != "load" || rs[0].KeySource != "PGPASSWORD from --secret-var db_password (/run/keys/pw)" ||
			!strings.Contains(rs[0].KeyID, "not recorded") || rs[0].SHA256 != "" || rs[0].Verified {
			t.Errorf("restores %+v", rs)
		}
	})
	t.Run("a checksum printed is not a checksum verified", func(t *testing.T) {
		t.Parallel()
		rs := restoresOf(t, func(tr *trail) {
			tr.step("backup-intact", engine.StepSucceeded, out("backup-intact", "sha256 "+sumA+" acme.sql.age: as the manifest says\n"))
			tr.step("decrypt", engine.StepSucceeded, &engine.ActionIntent{Action: 1, Step: "decrypt", Verb: "exec"}, secret(1, "claire", "age1abc"))
		})
		if len(rs) != 1 || rs[0].SHA256 != "" || rs[0].Verified || rs[0].ChecksumStep != "" {
			t.Errorf("restores %+v: a line of output was taken for a verified checksum", rs)
		}
	})
	t.Run("no secret, no restore", func(t *testing.T) {
		t.Parallel()
		rs := restoresOf(t, func(tr *trail) {
			tr.step("backup-intact", engine.StepSucceeded, verified("backup-intact", "acme.sql.age", sumA, sumA))
		})
		if rs == nil || len(rs) != 0 {
			t.Errorf("restores %#v, want an empty list", rs)
		}
	})
}
