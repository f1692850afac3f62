package engine_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

// backupWithSums writes a 3 MiB backup (more than one read block) and its
// checksum file, written by coreutils' sha256sum itself, after a line for
// another file: the digest the engine must agree with is not computed by
// the code under test.
func backupWithSums(t *testing.T) (dir, backup, sums, digest string) {
	t.Helper()
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("sha256sum is missing (Debian: coreutils)")
	}
	dir = t.TempDir()
	backup, sums = filepath.Join(dir, "acme.sql.age"), filepath.Join(dir, "acme.sql.age.sha256")
	b := make([]byte, 3<<20+17)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(backup, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "other.sql.age"), []byte("other"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sha256sum", "other.sql.age", "acme.sql.age")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sha256sum: %v", err)
	}
	if err := os.WriteFile(sums, out, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return dir, backup, sums, strings.Fields(lines[1])[0]
}

// failedWhy runs h, which must fail, and returns why its step failed.
func failedWhy(t *testing.T, h *harness, step string) string {
	t.Helper()
	if outcome, _ := h.run(nil); outcome == engine.OutcomeSucceeded {
		t.Fatal("the run succeeded")
	}
	for _, ev := range h.journal.find("step.changed") {
		if sc := ev.(*engine.StepChanged); sc.Step == step && sc.State == engine.StepFailed {
			return sc.Reason
		}
	}
	t.Fatalf("step %s did not fail", step)
	return ""
}

func verifiedEvents(h *harness) []*engine.FileVerified {
	var out []*engine.FileVerified
	for _, ev := range h.journal.find("file.verified") {
		out = append(out, ev.(*engine.FileVerified))
	}
	return out
}

// TestCheckSHA256Matches: the file's SHA-256 agrees with its line in the
// checksum file (and with a literal digest): the step succeeds, the
// comparison is a file.verified event the projection holds, and the
// recovery point is recorded once the checksum passed.
func TestCheckSHA256Matches(t *testing.T) {
	t.Parallel()
	_, backup, sums, digest := backupWithSums(t)
	h := copyRunbookHarness(t, fmt.Sprintf(`  - id: intact
    check: {file: %q, max_age: 1h, recovery_point: true, sha256: %q}
  - id: intact-literal
    check: {file: %q, sha256: %s}
`, backup, sums, backup, strings.ToUpper(digest)))
	if outcome, err := h.run(nil); err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s err %v: %s", outcome, err, h.ended().Reason)
	}
	vs := verifiedEvents(h)
	if len(vs) != 2 {
		t.Fatalf("%d file.verified events, want 2", len(vs))
	}
	v := vs[0]
	if v.Step != "intact" || v.File != backup || v.SHA256 != digest || v.Expected != digest || !v.Match || v.Bytes != 3<<20+17 ||
		v.Source != "checksum file "+sums+", line 2" || v.SumsFile != sums {
		t.Errorf("file.verified %+v", v)
	}
	if v := vs[1]; v.Step != "intact-literal" || v.SHA256 != digest || !v.Match || v.Source != "the runbook's sha256" || v.SumsFile != "" {
		t.Errorf("file.verified %+v", v)
	}
	p, err := engine.ProgressOf(h.journal.events)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Verified) != 2 || p.Verified[0].SHA256 != digest || p.Verified[0].Seq == 0 {
		t.Errorf("the projection holds %+v", p.Verified)
	}
	// Decoded as stored, it says the same.
	body, err := engine.EncodeEvent(v)
	if err != nil {
		t.Fatal(err)
	}
	back, err := engine.DecodeEvent("file.verified", body, *v.EventMeta())
	if err != nil || *back.(*engine.FileVerified) != *v {
		t.Errorf("file.verified decoded %+v, %v", back, err)
	}
	rps := h.journal.find("rpo.point")
	if len(rps) != 1 || rps[0].EventMeta().Seq < v.Seq {
		t.Errorf("recovery points %v: want one, after the checksum", rps)
	}
	if len(logsOf(h, "intact", "as checksum file "+sums+", line 2 says")) != 1 {
		t.Error("the match is not said in the log")
	}
}

// TestCheckSHA256Refuses: a mismatch, a checksum file without a line for
// the file, a missing checksum file and a missing file each fail the step
// with a message for people; only the mismatch journals a comparison, and
// no refused backup records a recovery point.
func TestCheckSHA256Refuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		spoil  func(t *testing.T, dir, backup, sums string) (file, sumsFile string)
		want   []string
		events int
	}{
		{"one byte changed", func(t *testing.T, dir, backup, sums string) (string, string) {
			b, _ := os.ReadFile(backup)
			b[len(b)/2] ^= 1
			os.WriteFile(backup, b, 0o600)
			return backup, sums
		}, []string{"checksum mismatch: file {backup} has SHA-256 ", "but checksum file {sums}, line 2 says {digest}", "damaged or incomplete", "receive it again"}, 1},
		{"no line for the file", func(t *testing.T, dir, backup, sums string) (string, string) {
			other := filepath.Join(dir, "other.sha256")
			b, _ := os.ReadFile(sums)
			os.WriteFile(other, []byte(strings.Split(string(b), "\n")[0]+"\n# a comment\n"), 0o600)
			return backup, other
		}, []string{"checksum file {dir}/other.sha256 has no line for acme.sql.age (it holds 1 line(s), for \"other.sql.age\")", "receive the checksum file that goes with this file"}, 0},
		{"checksum file missing", func(t *testing.T, dir, backup, sums string) (string, string) {
			os.Remove(sums)
			return backup, sums
		}, []string{"checksum file {sums} is missing", "give the digest itself"}, 0},
		{"file missing", func(t *testing.T, dir, backup, sums string) (string, string) {
			os.Remove(backup)
			return backup, sums
		}, []string{"file {backup}: ", "no such file"}, 0},
		{"two digests for the file", func(t *testing.T, dir, backup, sums string) (string, string) {
			f, _ := os.OpenFile(sums, os.O_APPEND|os.O_WRONLY, 0)
			fmt.Fprintf(f, "%s *backups/acme.sql.age\n", strings.Repeat("0", 64))
			f.Close()
			return backup, sums
		}, []string{"gives two different SHA-256 for acme.sql.age (lines 2 and 3)"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, backup, sums, digest := backupWithSums(t)
			mtime := time.Now().Add(-time.Hour)
			file, sumsFile := tc.spoil(t, dir, backup, sums)
			os.Chtimes(file, mtime, mtime)
			h := copyRunbookHarness(t, fmt.Sprintf(`  - id: intact
    on_failure: abort
    check: {file: %q, max_age: 26h, recovery_point: true, sha256: %q}
`, file, sumsFile))
			why := failedWhy(t, h, "intact")
			for _, w := range tc.want {
				w = strings.NewReplacer("{backup}", backup, "{sums}", sums, "{digest}", digest, "{dir}", dir).Replace(w)
				if !strings.Contains(why, w) {
					t.Errorf("the failure\n%s\ndoes not say %q", why, w)
				}
			}
			vs := verifiedEvents(h)
			if len(vs) != tc.events {
				t.Fatalf("%d file.verified events, want %d", len(vs), tc.events)
			}
			if len(vs) == 1 && (vs[0].Match || vs[0].Expected != digest || vs[0].SHA256 == digest || len(vs[0].SHA256) != 64) {
				t.Errorf("file.verified %+v", vs[0])
			}
			if n := len(h.journal.find("rpo.point")); n != 0 {
				t.Errorf("a refused backup recorded %d recovery point(s)", n)
			}
		})
	}
}
