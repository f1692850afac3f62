package readiness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine/sim"
)

// backupRunbook is a hybrid restore in short: a backup received, checked
// against a 26h RPO, then restored.
func backupRunbook(dir string, receive bool, maxAge string) string {
	src := `version: 1
name: preflight
rpo: 26h
sites:
  provider: {uri: "sim://provider", role: secondary}
steps:
`
	if receive {
		src += "  - id: receive\n    exec: {command: [true]}\n"
	}
	return src + `  - id: backup-fresh
    check: {file: "` + filepath.Join(dir, "acme.sql.age") + `", max_age: ` + maxAge + `, recovery_point: true}
  - id: marker
    check: {file: "` + filepath.Join(dir, "marker") + `", max_age: 1h}
  - id: decrypt
    exec: {command: [true]}
`
}

func touchAged(t *testing.T, path string, age time.Duration) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-age)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func noSites(*sim.Lab) {}

// TestBackupOlderThanTheRPOIsABlocker: a backup older than the runbook's
// RPO is a blocker that says its age, the target and the way out, even
// when its own max_age would let it through; a fresh one is ok.
func TestBackupOlderThanTheRPOIsABlocker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	touchAged(t, filepath.Join(dir, "marker"), time.Minute)
	touchAged(t, filepath.Join(dir, "acme.sql.age"), 30*time.Hour)
	rep := assess(t, backupRunbook(dir, true, "48h"), "test", noSites)
	if rep.Ready || len(rep.Blockers) != 1 {
		t.Fatalf("a 30h old backup, RPO 26h: ready %t, blockers %q", rep.Ready, rep.Blockers)
	}
	b := rep.Blockers[0]
	for _, want := range []string{"step backup-fresh", "acme.sql.age is 30h", "older than the runbook's RPO target of 26h", `--force-unready "the reason"`, "step receive runs before it"} {
		if !strings.Contains(b, want) {
			t.Errorf("the blocker lacks %q: %s", want, b)
		}
	}
	if len(rep.Files) != 2 || rep.Files[0].Verdict != Blocker || rep.Files[0].LimitS != (26*time.Hour).Seconds() || rep.Files[1].Verdict != OK || !rep.Files[0].Present {
		t.Errorf("files %+v", rep.Files)
	}
	if out := printed(rep); !strings.Contains(out, "Files the checks read (on this host)") || !strings.Contains(out, "26h (RPO)") {
		t.Errorf("the report does not list the files:\n%s", out)
	}

	touchAged(t, filepath.Join(dir, "acme.sql.age"), 2*time.Hour)
	if rep := assess(t, backupRunbook(dir, true, "48h"), "test", noSites); !rep.Ready || rep.Files[0].Verdict != OK {
		t.Errorf("a 2h old backup: ready %t, blockers %q, files %+v", rep.Ready, rep.Blockers, rep.Files)
	}
}

// TestFileOlderThanItsStepAllows: without recovery_point the step's own
// max_age is the limit; a step the resumed run is past needs nothing.
func TestFileOlderThanItsStepAllows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	touchAged(t, filepath.Join(dir, "acme.sql.age"), time.Hour)
	touchAged(t, filepath.Join(dir, "marker"), 3*time.Hour)
	rb, uris, sites := lab(t, backupRunbook(dir, false, "26h"), noSites)
	rep := Assess(t.Context(), rb, "test", nil, uris, sites, 5*time.Second)
	if rep.Ready || len(rep.Blockers) != 1 || !strings.Contains(rep.Blockers[0], "the file "+filepath.Join(dir, "marker")+" is 3h") || !strings.Contains(rep.Blockers[0], "older than the 1h its step allows") {
		t.Fatalf("blockers %q", rep.Blockers)
	}
	if strings.Contains(rep.Blockers[0], "runs before it") {
		t.Errorf("no step runs before: %s", rep.Blockers[0])
	}
	rep = Assess(t.Context(), rb, "test", func(s string) bool { return s == "marker" }, uris, sites, 5*time.Second)
	if !rep.Ready || len(rep.Files) != 1 {
		t.Errorf("resumed past the marker's check: ready %t, blockers %q, files %+v", rep.Ready, rep.Blockers, rep.Files)
	}
}

// TestMissingFile: a file nothing before its check may bring is a blocker;
// one an earlier step may bring is a warning.
func TestMissingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	touchAged(t, filepath.Join(dir, "marker"), time.Minute)
	rep := assess(t, backupRunbook(dir, false, "26h"), "test", noSites)
	if rep.Ready || len(rep.Blockers) != 1 || !strings.Contains(rep.Blockers[0], "cannot be read on this host") {
		t.Errorf("missing, nothing brings it: blockers %q", rep.Blockers)
	}
	rep = assess(t, backupRunbook(dir, true, "26h"), "test", noSites)
	if !rep.Ready || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "is not there yet (step receive runs before it and may bring it)") {
		t.Errorf("missing, receive may bring it: ready %t, blockers %q, warnings %q", rep.Ready, rep.Blockers, rep.Warnings)
	}
	if rep.Files[0].Present || rep.Files[0].Verdict != Warning {
		t.Errorf("files %+v", rep.Files)
	}
}

// TestChecksumOnlyFileHasNoAgeLimit: a file check with sha256 and no
// max_age is judged present, at any age (its checksum is the step's work),
// and listed as such.
func TestChecksumOnlyFileHasNoAgeLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	touchAged(t, filepath.Join(dir, "acme.sql.age"), 400*time.Hour)
	touchAged(t, filepath.Join(dir, "acme.sql.age.sha256"), 400*time.Hour)
	src := `version: 1
name: preflight
sites:
  provider: {uri: "sim://provider", role: secondary}
steps:
  - id: backup-intact
    check: {file: "` + filepath.Join(dir, "acme.sql.age") + `", sha256: "` + filepath.Join(dir, "acme.sql.age.sha256") + `"}
`
	rep := assess(t, src, "test", noSites)
	if !rep.Ready || len(rep.Files) != 1 || rep.Files[0].Verdict != OK || rep.Files[0].LimitS != 0 || !strings.Contains(rep.Files[0].Limit, "any age") {
		t.Fatalf("ready %t, blockers %q, files %+v", rep.Ready, rep.Blockers, rep.Files)
	}
	var b strings.Builder
	rep.printFiles(&b)
	if !strings.Contains(b.String(), "any") {
		t.Errorf("the files table does not say any age:\n%s", b.String())
	}
}

// TestMissingChecksumFile: the checksum file is judged like the file it
// checks: missing with nothing to bring it, a blocker; with a step before
// that may bring it, a warning; there, nothing to say.
func TestMissingChecksumFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	touchAged(t, filepath.Join(dir, "acme.sql.age"), time.Hour)
	sums := filepath.Join(dir, "acme.sql.age.sha256")
	src := func(receive bool) string {
		s := "version: 1\nname: preflight\nsites:\n  provider: {uri: \"sim://provider\", role: secondary}\nsteps:\n"
		if receive {
			s += "  - id: receive\n    exec: {command: [true]}\n"
		}
		return s + "  - id: backup-intact\n    check: {file: \"" + filepath.Join(dir, "acme.sql.age") + "\", max_age: 26h, sha256: \"" + sums + "\"}\n"
	}
	rep := assess(t, src(false), "test", noSites)
	if rep.Ready || len(rep.Blockers) != 1 || !strings.Contains(rep.Blockers[0], "step backup-intact: checksum file "+sums+" cannot be read on this host") {
		t.Errorf("missing, nothing brings it: blockers %q", rep.Blockers)
	}
	rep = assess(t, src(true), "test", noSites)
	if !rep.Ready || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "checksum file "+sums+" is not there yet (step receive runs before it") {
		t.Errorf("missing, receive may bring it: ready %t, warnings %q", rep.Ready, rep.Warnings)
	}
	touchAged(t, sums, time.Hour)
	if rep := assess(t, src(false), "test", noSites); !rep.Ready || len(rep.Warnings) != 0 {
		t.Errorf("there: ready %t, blockers %q, warnings %q", rep.Ready, rep.Blockers, rep.Warnings)
	}
}
