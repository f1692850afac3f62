package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoteFindingAfterTheRun drives the real binary: a drill run to its end,
// then a finding recorded on it after the fact. It is chained and signed
// (verify --allowed-signers passes, with one more signature), the report and
// show list it as recorded after the run, and a second repli note on a run
// that does not exist, or with a bad date or step, is refused with exit 2.
func TestNoteFindingAfterTheRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "alice")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, []byte("alice "+string(pub)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"SUDO_USER=alice", "REPLI_SIGN_KEY=" + key, "SSH_AUTH_SOCK="}
	db := filepath.Join(dir, "audit.db")
	if r := runRepliEnv(t, env, "", "run", "runbooks/examples/annual-pra-test.yaml", "--auto-approve", "--plain", "--db", db, "--speed", "50"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// The run's auto-approved decisions are unsigned (nobody approved them):
	// verify --allowed-signers names them before and after; the finding
	// must add no line but its two events.
	before := runRepliEnv(t, env, "", "verify", "--db", db, "--allowed-signers", allowed)
	if !strings.HasPrefix(before.stdout, "ok: ") {
		t.Fatalf("verify before the finding: exit %d\n%s%s", before.code, before.stdout, before.stderr)
	}

	n := runRepliEnv(t, env, "", "note", "1", "--db", db, "--finding", "DNS TTL of a day delays the switch\x1b[2J", "--owner", "Jean Dupont", "--due", "2027-01-15", "--step", "stop-primary")
	if n.code != 0 || !strings.Contains(n.stdout, "finding recorded on run 1") || !strings.Contains(n.stdout, "signing as alice") {
		t.Fatalf("note: exit %d\n%s%s", n.code, n.stdout, n.stderr)
	}
	if strings.Contains(n.stdout, "\x1b") {
		t.Errorf("note echoed a raw escape sequence: %q", n.stdout)
	}

	v := runRepliEnv(t, env, "", "verify", "--db", db, "--allowed-signers", allowed)
	events := func(out string) (n int) {
		fmt.Sscanf(out, "ok: %d events", &n)
		return n
	}
	problems := func(out string) string { _, rest, _ := strings.Cut(out, "\n"); return rest }
	if v.code != before.code || events(v.stdout) != events(before.stdout)+2 || problems(v.stdout) != problems(before.stdout) {
		t.Fatalf("verify after the finding: exit %d, want the finding and its signature more and nothing else:\nbefore:\n%s\nafter:\n%s%s", v.code, before.stdout, v.stdout, v.stderr)
	}
	// Every signature that is not verified is listed (the auto-approved
	// decisions' are): the finding's is not among them.
	var checks struct {
		Signatures []struct {
			Kind, Status string
		} `json:"signature_findings"`
	}
	vj := runRepliEnv(t, env, "", "verify", "--db", db, "--allowed-signers", allowed, "--output", "json")
	if err := json.Unmarshal([]byte(vj.stdout), &checks); err != nil {
		t.Fatalf("verify --output json: %v\n%s", err, vj.stdout)
	}
	if len(checks.Signatures) == 0 {
		t.Fatalf("verify --output json lists no unverified signature, not even the auto-approved decisions': %s", vj.stdout)
	}
	for _, c := range checks.Signatures {
		if c.Kind == "finding" {
			t.Errorf("the finding's signature is %s, want verified as alice's", c.Status)
		}
	}

	rep := runRepli(t, "", "report", "1", "--db", db, "--format", "json")
	if rep.code != 0 {
		t.Fatalf("report: exit %d\n%s", rep.code, rep.stderr)
	}
	var doc struct {
		Findings []struct {
			Text, Owner, Step, By string
			Due                   string `json:"due"`
			AfterRun              bool   `json:"after_run"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(rep.stdout), &doc); err != nil {
		t.Fatalf("report JSON: %v", err)
	}
	if len(doc.Findings) != 1 {
		t.Fatalf("report findings: %+v", doc.Findings)
	}
	f := doc.Findings[0]
	if !strings.HasPrefix(f.Text, "DNS TTL of a day delays the switch") || f.Owner != "Jean Dupont" || f.Step != "stop-primary" ||
		f.By != "alice" || !strings.HasPrefix(f.Due, "2027-01-15") || !f.AfterRun {
		t.Errorf("report finding: %+v", f)
	}
	md := runRepli(t, "", "report", "1", "--db", db)
	if !strings.Contains(md.stdout, "DNS TTL of a day delays the switch") || strings.Contains(md.stdout, "\x1b") {
		t.Errorf("the Markdown report lacks the finding, or has a raw escape:\n%s", md.stdout)
	}
	show := runRepli(t, "", "show", "1", "--db", db)
	if !strings.Contains(show.stdout, "after the run") || !strings.Contains(show.stdout, "(owner Jean Dupont) due 2027-01-15") {
		t.Errorf("show lacks the finding:\n%s", show.stdout)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no such run", []string{"note", "9", "--finding", "x"}, "no such run"},
		{"a bad date", []string{"note", "1", "--finding", "x", "--due", "15/01/2027"}, "YYYY-MM-DD"},
		{"no such step", []string{"note", "1", "--finding", "x", "--step", "nope"}, "has no step \"nope\""},
		{"no finding", []string{"note", "1"}, "finding"},
	} {
		r := runRepliEnv(t, env, "", append(tt.args, "--db", db)...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: exit %d, want 2 with %q\n%s%s", tt.name, r.code, tt.want, r.stdout, r.stderr)
		}
	}
}
