package main

// The bundled hybrid-restore on a real backup: an age-encrypted SQLite dump
// built by testdata/hybrid/make-demo-backup.sh, restored by the real binary
// with the real age, sqlite3 and sha256sum (simulated sites for the VM).

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// hybridBackup builds a demo backup in a new directory and returns the
// directory, its key and a private TMPDIR for the run.
func hybridBackup(t *testing.T, env ...string) (backupDir, key, tmp string) {
	t.Helper()
	for _, tool := range []string{"age", "age-keygen", "sqlite3", "sha256sum"} {
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
	cmd := exec.Command("sh", filepath.Join("..", "..", "testdata", "hybrid", "make-demo-backup.sh"))
	cmd.Env = append(append(os.Environ(), "BACKUP_DIR="+backupDir, "KEY_FILE="+key), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make-demo-backup.sh: %v\n%s", err, out)
	}
	return backupDir, key, tmp
}

// runHybrid runs the bundled runbook on an existing backup (the receive step
// does nothing), with a private TMPDIR.
func runHybrid(t *testing.T, backupDir, key, tmp string) result {
	t.Helper()
	return runRepliEnv(t, []string{"TMPDIR=" + tmp}, "", "run", "hybrid-restore", "--auto-approve", "--plain",
		"--db", filepath.Join(filepath.Dir(tmp), "audit.db"), "--var", "receive_command=true",
		"--var", "backup_dir="+backupDir, "--var", "key_file="+key)
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
		"sha256 ", "as the manifest says",
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

func TestHybridRestoreBackupTooOld(t *testing.T) {
	t.Parallel()
	backupDir, key, tmp := hybridBackup(t, "BACKUP_AGE_HOURS=30")
	r := runHybrid(t, backupDir, key, tmp)
	if r.code != 1 {
		t.Fatalf("hybrid-restore of a 30h old backup (RPO 26h): exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if all := r.stdout + r.stderr; !strings.Contains(all, "older than the 26h0m0s allowed") {
		t.Errorf("the failure does not say the backup is too old:\n%s\n%s", r.stdout, r.stderr)
	}
	if !ran(r.stdout, "backup-fresh") || ran(r.stdout, "decrypt") {
		t.Errorf("want the run to stop at backup-fresh, before decrypt:\n%s", r.stdout)
	}
	noClearText(t, backupDir, tmp)
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
	if all := r.stdout + r.stderr; !strings.Contains(all, "checksum mismatch: the backup is not the one its manifest describes") {
		t.Errorf("the refusal does not say the checksum differs:\n%s\n%s", r.stdout, r.stderr)
	}
	if !ran(r.stdout, "backup-intact") || ran(r.stdout, "decrypt") {
		t.Errorf("want the run to stop at backup-intact, before decrypt:\n%s", r.stdout)
	}
	noClearText(t, backupDir, tmp)
}
