package main

// The bundled hybrid-restore on a real backup: an age-encrypted SQLite dump
// built by testdata/hybrid/make-demo-backup.sh, restored by the real binary
// with the real age, sqlite3 and sha256sum (simulated sites for the VM).

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/report"
	"github.com/repli-dr/repli/store"
)

// hybridBackup builds a demo backup in a new directory and returns the
// directory, its key and a private TMPDIR for the run.
func hybridBackup(t *testing.T, env ...string) (backupDir, key, tmp string) {
	t.Helper()
	for _, tool := range []string{"age", "age-keygen", "sqlite3", "sha256sum", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (make test installs it: apt-get install age sqlite3)", tool)
			}
			t.Skipf("%s is missing: apt-get install age sqlite3", tool)
		}
	}
	dir := t.TempDir()
	backupDir, key, tmp = filepath.Join(dir, "backup"), filepath.Join(dir, "customer-key.txt"), filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	// The operator's SSH key, which signs the run's end (and so the chain
	// that holds who supplied the customer's key).
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", hybridOperator, "-f", filepath.Join(dir, "signer")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	cmd := exec.Command("sh", filepath.Join("..", "..", "testdata", "hybrid", "make-demo-backup.sh"))
	cmd.Env = append(append(os.Environ(), "BACKUP_DIR="+backupDir, "KEY_FILE="+key), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make-demo-backup.sh: %v\n%s", err, out)
	}
	return backupDir, key, tmp
}

// hybridOperator is who runs the restores (SUDO_USER): the operator the
// trail records as having supplied the key.
const hybridOperator = "claire"

// runHybrid runs the bundled runbook on an existing backup (the receive step
// does nothing), with a private TMPDIR, into the audit trail hybridDB.
func runHybrid(t *testing.T, backupDir, key, tmp string, extra ...string) result {
	t.Helper()
	args := append([]string{"run", "hybrid-restore", "--auto-approve", "--plain",
		"--db", hybridDB(tmp), "--var", "receive_command=true",
		"--var", "backup_dir=" + backupDir, "--var", "key_file=" + key}, extra...)
	env := []string{"TMPDIR=" + tmp, "SUDO_USER=" + hybridOperator, "REPLI_SIGN_KEY=" + filepath.Join(filepath.Dir(tmp), "signer"), "SSH_AUTH_SOCK="}
	return runRepliEnv(t, env, "", args...)
}

func hybridDB(tmp string) string { return filepath.Join(filepath.Dir(tmp), "audit.db") }

// hybridDoc is the run's report document, as repli show --json gives it.
func hybridDoc(t *testing.T, db string) *report.Doc {
	t.Helper()
	r := runRepli(t, "", "show", "1", "--json", "--db", db)
	if r.code != 0 {
		t.Fatalf("show --json: exit %d\n%s", r.code, r.stderr)
	}
	var d report.Doc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("show --json: %v\n%s", err, r.stdout)
	}
	return &d
}

func ran(out, step string) bool {
	return regexp.MustCompile(`(?m)^\S+ ` + regexp.QuoteMeta(step) + ` ▶ running$`).MatchString(out)
}

// noClearText: nothing decrypted is left behind, in TMPDIR or beside the
// backup.
func noClearText(t *testing.T, backupDir, tmp string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(tmp, "*"))
	if len(left) > 0 {
		t.Errorf("left in TMPDIR after the run: %v", left)
	}
	for _, f := range []string{".restore-dir", "dump.sql"} {
		if _, err := os.Stat(filepath.Join(backupDir, f)); err == nil {
			t.Errorf("%s left beside the backup", f)
		}
	}
}

func TestHybridRestoreKeyRight(t *testing.T) {
	t.Parallel()
	backupDir, key, tmp := hybridBackup(t, "INVOICES=1234")
	r := runHybrid(t, backupDir, key, tmp)
	if r.code != 0 {
		t.Fatalf("hybrid-restore with the customer's key: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"backup-intact file " + backupDir + "/acme.sql.age: SHA-256 ", "as checksum file " + backupDir + "/acme.sql.age.sha256, line 1 says",
		"restore directory: drwx------ ", // mktemp -d, 0700
		"bytes: -rw------- ",             // the dump, readable by us only
		"restored 2 table(s)",
		"integrity_check: ok",
		"customers: 40 rows, as the manifest says",
		"invoices: 1234 rows, as the manifest says",
		"wipe-cleartext stdout: removed " + tmp + "/repli-restore.",
		"✓ succeeded",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the run does not say %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "AGE-SECRET-KEY-") {
		t.Error("the customer's key appears in the output")
	}
	noClearText(t, backupDir, tmp)
	keyRecorded(t, backupDir, key, tmp)
}

// keyRecorded: the trail records who supplied the key, when, where from and
// its age recipient, in a chained event that verifies; the report's
// section 11 lists the restore with its backup, checksum and key; the key
// itself is nowhere in the trail's files.
func keyRecorded(t *testing.T, backupDir, key, tmp string) {
	t.Helper()
	db := hybridDB(tmp)
	text, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	// age-keygen's own comment gives the recipient: the test does not
	// derive it the way repli does.
	recipient := regexp.MustCompile(`(?m)^# public key: (age1\S+)$`).FindSubmatch(text)
	secret := regexp.MustCompile(`(?m)^AGE-SECRET-KEY-1\S+$`).Find(text)
	if recipient == nil || secret == nil {
		t.Fatalf("age-keygen wrote an unexpected key file:\n%s", text)
	}

	s, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(context.Background(), 1)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	var supplied []*engine.SecretSupplied
	var verified []*engine.FileVerified
	for _, ev := range evs {
		switch e := ev.(type) {
		case *engine.SecretSupplied:
			supplied = append(supplied, e)
		case *engine.FileVerified:
			verified = append(verified, e)
		}
	}
	// The checksum is a chained event of its own, checked against the
	// checksum file shipped beside the backup, before the key was used.
	if len(verified) != 1 || verified[0].Step != "backup-intact" || !verified[0].Match || verified[0].SHA256 != verified[0].Expected ||
		verified[0].SumsFile != filepath.Join(backupDir, "acme.sql.age.sha256") || len(supplied) == 1 && verified[0].Seq > supplied[0].Seq {
		t.Errorf("file.verified events %+v, want one from backup-intact, matching, before the key", verified)
	}
	if len(supplied) != 1 {
		t.Fatalf("%d secret.supplied events in the trail, want 1", len(supplied))
	}
	e := supplied[0]
	if e.Step != "decrypt" || e.Env != "AGE_KEY" || e.File != key || e.Operator != hybridOperator || e.KeyID != string(recipient[1]) || e.KeyIDKind != engine.KeyIDAge {
		t.Errorf("secret.supplied %+v, want step decrypt, AGE_KEY from %s, by %s, key id %s", e, key, hybridOperator, recipient[1])
	}
	if v := runRepli(t, "", "verify", "--db", db); v.code != 0 {
		t.Errorf("verify: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}

	d := hybridDoc(t, db)
	// The run's end is signed with the operator's key: its hash chains
	// every event before it, the key's record included. ssh-keygen alone
	// checks the signature.
	var end *report.Signature
	for i, sg := range d.Integrity.Signatures {
		if sg.What == "end of the run" {
			end = &d.Integrity.Signatures[i]
		}
	}
	if end == nil || end.Signer != hybridOperator {
		t.Fatalf("the run's end is not signed by %s: %+v", hybridOperator, d.Integrity.Signatures)
	}
	dir := filepath.Dir(tmp)
	os.WriteFile(filepath.Join(dir, "end.sig"), []byte(end.Armored+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "allowed_signers"), []byte(end.AllowedSigners+"\n"), 0o600)
	ver := exec.Command("ssh-keygen", "-Y", "verify", "-f", filepath.Join(dir, "allowed_signers"), "-I", hybridOperator, "-n", end.Namespace, "-s", filepath.Join(dir, "end.sig"))
	ver.Stdin = strings.NewReader(end.Message + "\n") // signed with its newline
	if out, err := ver.CombinedOutput(); err != nil {
		t.Errorf("ssh-keygen -Y verify of the run's end: %v\n%s", err, out)
	}
	if last := evs[len(evs)-1].EventMeta().Seq; !strings.Contains(end.Message, "run 1") || e.Seq >= last {
		t.Errorf("the signed end (%q, seq %d) does not come after the key's record (seq %d)", end.Message, last, e.Seq)
	}
	if len(d.Restores) != 1 {
		t.Fatalf("section 11 lists %d restores, want 1: %+v", len(d.Restores), d.Restores)
	}
	rs := d.Restores[0]
	backup := filepath.Join(backupDir, "acme.sql.age")
	fi, err := os.Stat(backup)
	if err != nil {
		t.Fatal(err)
	}
	// coreutils computes the digest the report must show, not repli.
	sum, err := exec.Command("sha256sum", backup).Output()
	if err != nil || len(sum) < 64 {
		t.Fatalf("sha256sum %s: %v", backup, err)
	}
	digest := string(sum[:64])
	var decrypt report.Step
	for _, st := range d.Timeline {
		if st.ID == "decrypt" {
			decrypt = st
		}
	}
	if rs.Step != "decrypt" || rs.Result != "succeeded" || rs.BackupID != backup || !rs.TakenAt.Equal(fi.ModTime()) ||
		rs.SHA256 != digest || !rs.Verified || rs.ChecksumStep != "backup-intact" ||
		rs.KeyUsedBy != hybridOperator || rs.KeyID != string(recipient[1])+" (age recipient)" || rs.KeySource != "AGE_KEY from "+key {
		t.Errorf("section 11: %+v", rs)
	}
	if rs.KeyUsedAt.Before(decrypt.Started) || rs.KeyUsedAt.After(decrypt.Ended) || rs.Age != rs.KeyUsedAt.Sub(rs.TakenAt) || rs.Age < time.Hour {
		t.Errorf("key used at %s, age %s; decrypt ran %s to %s; the backup was taken %s", rs.KeyUsedAt, rs.Age, decrypt.Started, decrypt.Ended, rs.TakenAt)
	}
	if rpo := d.Objectives.RPO; !rpo.Measured || rpo.Verdict() != "pass" || rpo.FromStep != "backup-fresh" {
		t.Errorf("RPO %+v → %s, want measured from backup-fresh and passed", rpo, rpo.Verdict())
	}
	md := runRepli(t, "", "report", "1", "--format", "md", "--db", db)
	for _, want := range []string{"## 11. Restores from encrypted backups", "| **Decryption key used by** | " + hybridOperator + ", ", string(recipient[1])} {
		if !strings.Contains(md.stdout, want) {
			t.Errorf("the Markdown report lacks %q", want)
		}
	}
	show := runRepli(t, "", "show", "1", "--db", db)
	if !strings.Contains(show.stdout, "key supplied by "+hybridOperator+" at ") {
		t.Errorf("repli show does not say who supplied the key:\n%s", show.stdout)
	}

	// The key, whole or its payload alone, in none of the trail's files.
	files, _ := filepath.Glob(db + "*")
	if len(files) == 0 {
		t.Fatal("no trail files")
	}
	payload := bytes.TrimPrefix(secret, []byte("AGE-SECRET-KEY-1"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range [][]byte{secret, payload, bytes.ToLower(payload)} {
			if bytes.Contains(raw, v) {
				t.Errorf("the key is in %s", filepath.Base(f))
			}
		}
	}
}

func TestHybridRestoreKeyWrong(t *testing.T) {
	t.Parallel()
	backupDir, _, tmp := hybridBackup(t)
	other := filepath.Join(filepath.Dir(tmp), "other-key.txt")
	if out, err := exec.Command("age-keygen", "-o", other).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v\n%s", err, out)
	}
	r := runHybrid(t, backupDir, other, tmp)
	if r.code != 1 {
		t.Fatalf("hybrid-restore with another key: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if all := r.stdout + r.stderr; !strings.Contains(all, "decryption failed: the key supplied does not open this backup") {
		t.Errorf("the failure does not say the key is wrong:\n%s\n%s", r.stdout, r.stderr)
	}
	if !ran(r.stdout, "decrypt") || ran(r.stdout, "restore") {
		t.Errorf("want the run to stop at decrypt, before restore:\n%s", r.stdout)
	}
	noClearText(t, backupDir, tmp)
}

// TestHybridRestoreBackupTooOld: a backup older than the RPO is a blocker
// at preflight (repli check says so too): nothing runs. Restored anyway
// with --force-unready, the reason is in the trail and the report, and the
// report says the RPO was missed.
func TestHybridRestoreBackupTooOld(t *testing.T) {
	t.Parallel()
	backupDir, key, tmp := hybridBackup(t, "BACKUP_AGE_HOURS=30")
	vars := []string{"--var", "receive_command=true", "--var", "backup_dir=" + backupDir, "--var", "key_file=" + key}
	c := runRepli(t, "", append([]string{"check", "hybrid-restore"}, vars...)...)
	if c.code != 1 || !strings.Contains(c.stdout, "✗ not ready: 1 blocker(s)") || !strings.Contains(c.stdout, "older than the runbook's RPO target of 26h") {
		t.Errorf("check of a 30h old backup (RPO 26h): exit %d\n%s\n%s", c.code, c.stdout, c.stderr)
	}

	r := runHybrid(t, backupDir, key, tmp)
	if r.code != 2 {
		t.Fatalf("hybrid-restore of a 30h old backup (RPO 26h): exit %d, want 2 (not ready)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"step backup-fresh: the backup " + backupDir + "/acme.sql.age is 30h", "older than the runbook's RPO target of 26h", "--force-unready"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stdout, "▶ running") {
		t.Errorf("a step ran although the preflight refused the run:\n%s", r.stdout)
	}
	if h := runRepli(t, "", "history", "--db", hybridDB(tmp)); strings.Contains(h.stdout, "hybrid-restore") {
		t.Errorf("a refused run was recorded:\n%s", h.stdout)
	}
	noClearText(t, backupDir, tmp)

	const why = "the customer's backups stopped on the 28th; restoring the last one, agreed with their DPO"
	r = runHybrid(t, backupDir, key, tmp, "--force-unready", why)
	if r.code != 0 || !strings.Contains(r.stdout, "invoices: 5000 rows, as the manifest says") {
		t.Fatalf("hybrid-restore of a 30h old backup, overridden: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	noClearText(t, backupDir, tmp)
	d := hybridDoc(t, hybridDB(tmp))
	var accepted, deviation bool
	for _, a := range d.Accepted {
		accepted = accepted || (a.Severity == "blocker" && strings.Contains(a.Message, "older than the runbook's RPO target of 26h") && a.Reason == why && a.By == hybridOperator)
	}
	for _, x := range d.Deviations {
		deviation = deviation || (x.Kind == "override" && strings.Contains(x.Detail, why))
	}
	if !accepted || !deviation {
		t.Errorf("the override is not in the report: accepted %+v, deviations %+v", d.Accepted, d.Deviations)
	}
	if rpo := d.Objectives.RPO; rpo.Verdict() != "fail" || rpo.Achieved < 30*time.Hour {
		t.Errorf("RPO %+v → %s, want failed at 30h or more", rpo, rpo.Verdict())
	}
	if len(d.Restores) != 1 || d.Restores[0].Age < 30*time.Hour {
		t.Errorf("section 11: %+v", d.Restores)
	}
	s, err := store.OpenReadOnly(context.Background(), hybridDB(tmp))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, _ := s.Events(context.Background(), 1)
	var recorded bool
	for _, ev := range evs {
		if l, ok := ev.(*engine.Logged); ok && strings.Contains(l.Message, why) {
			recorded = true
		}
	}
	if !recorded {
		t.Error("the override's reason is not in the audit trail")
	}
}

func TestHybridRestoreChecksumMismatch(t *testing.T) {
	t.Parallel()
	backupDir, key, tmp := hybridBackup(t)
	// One byte changed in the middle, the modification time kept: only
	// the checksum can tell.
	file := filepath.Join(backupDir, "acme.sql.age")
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	r := runHybrid(t, backupDir, key, tmp)
	if r.code != 1 {
		t.Fatalf("hybrid-restore of a damaged backup: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	all := r.stdout + r.stderr
	for _, want := range []string{"checksum mismatch: file " + file + " has SHA-256 ", "but checksum file " + file + ".sha256, line 1 says ", "receive it again"} {
		if !strings.Contains(all, want) {
			t.Errorf("the refusal does not say %q:\n%s\n%s", want, r.stdout, r.stderr)
		}
	}
	if !ran(r.stdout, "backup-intact") || ran(r.stdout, "decrypt") {
		t.Errorf("want the run to stop at backup-intact, before decrypt:\n%s", r.stdout)
	}
	noClearText(t, backupDir, tmp)
}

// TestSecretVarSupplierRecorded: a key given with --secret-var is recorded
// under the var's name, by the operator, with its age recipient; its value
// is in none of the trail's files.
func TestSecretVarSupplierRecorded(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("age-keygen"); err != nil {
		t.Skip("age-keygen is missing: apt-get install age")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "acme.txt")
	if out, err := exec.Command("age-keygen", "-o", key).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v\n%s", err, out)
	}
	text, _ := os.ReadFile(key)
	recipient := regexp.MustCompile(`(?m)^# public key: (age1\S+)$`).FindSubmatch(text)
	secret := regexp.MustCompile(`(?m)^AGE-SECRET-KEY-1\S+$`).Find(text)
	plan := writeRunbook(t, `version: 1
name: secret-var
vars:
  age_key: none
sites:
  provider: {uri: sim://provider}
steps:
  - id: decrypt
    exec:
      command: 'case "$AGE_KEY" in (*AGE-SECRET-KEY-1*) echo key received;; (*) exit 1;; esac'
      shell: true
      env: {AGE_KEY: "${age_key}"}
`)
	db := filepath.Join(dir, "audit.db")
	r := runRepliEnv(t, []string{"SUDO_USER=" + hybridOperator}, "", "run", plan, "--auto-approve", "--plain", "--db", db, "--secret-var", "age_key=@"+key)
	if r.code != 0 || !strings.Contains(r.stdout, "key received") {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	rs := hybridDoc(t, db).Restores
	if len(rs) != 1 || rs[0].KeySource != "AGE_KEY from --secret-var age_key ("+key+")" || rs[0].KeyUsedBy != hybridOperator ||
		rs[0].KeyID != string(recipient[1])+" (age recipient)" || rs[0].Verified || rs[0].BackupID != "" {
		t.Errorf("section 11: %+v", rs)
	}
	files, _ := filepath.Glob(db + "*")
	for _, f := range files {
		if raw, _ := os.ReadFile(f); bytes.Contains(raw, secret) {
			t.Errorf("the key is in %s", filepath.Base(f))
		}
	}
}
