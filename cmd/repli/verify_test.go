package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/sshsig"
	"github.com/repli-dr/repli/store"
)

// signedTrail writes, with the store as a signing console would, one run
// by alice that went through a gate, and returns the trail and an
// allowed_signers file naming alice's and bob's keys.
func signedTrail(t *testing.T, signAs string) (db, allowed string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	var lines []string
	for _, who := range []string{"alice", "bob"} {
		p := filepath.Join(dir, who)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", p).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		pub, _ := os.ReadFile(p + ".pub")
		lines = append(lines, who+" "+strings.TrimSpace(string(pub)))
	}
	allowed = filepath.Join(dir, "allowed_signers")
	os.WriteFile(allowed, []byte(strings.Join(lines, "\n")+"\n"), 0o644)

	db = filepath.Join(dir, "audit.db")
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sg, err := sshsig.FromKeyFile(ctx, filepath.Join(dir, signAs))
	if err != nil {
		t.Fatal(err)
	}
	s.SetSigner("alice", sg, nil)
	id, err := s.CreateRun(ctx, store.RunInfo{Runbook: "erp", Mode: "test", Operator: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	for i, ev := range []engine.Event{
		&engine.RunStarted{Runbook: "erp", Mode: "test", Operator: "alice"},
		&engine.GateOpened{Step: "stop-primary", Gate: "confirm", Prompt: "Stop vm-db?"},
		&engine.GateDecided{Step: "stop-primary", Approved: true, Operator: "alice"},
		&engine.RunEnded{Outcome: engine.OutcomeSucceeded},
	} {
		m := ev.EventMeta()
		m.RunID, m.Seq, m.At = id, int64(i+1), at.Add(time.Duration(i)*time.Second)
		if err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	return db, allowed
}

func TestVerifyAllowedSigners(t *testing.T) {
	t.Parallel()
	db, allowed := signedTrail(t, "alice")
	r := runRepli(t, "", "verify", "--db", db, "--allowed-signers", allowed)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ok:") || !strings.Contains(r.stdout, "signatures: 2 decisions and run ends, each signed by a key") {
		t.Errorf("verify of a signed trail: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// bob's key, signing as alice: the chain is intact, the signatures are
	// not alice's.
	db, allowed = signedTrail(t, "bob")
	r = runRepli(t, "", "verify", "--db", db, "--allowed-signers", allowed)
	if r.code != 1 || strings.Count(r.stdout, "SIGNATURE NOT ALLOWED: run 1") != 2 || !strings.Contains(r.stdout, "allows for bob, not for \"alice\"") {
		t.Errorf("verify of a trail signed with bob's key as alice: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runRepli(t, "", "verify", "--db", db); r.code != 0 {
		t.Errorf("without --allowed-signers the chain alone is checked: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestVerifyUnsignedRun: a run made by a console that does not sign (no
// SetSigner: every run before signing existed) is named by verify
// --allowed-signers.
func TestVerifyUnsignedRun(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	if r := runRepli(t, "", "run", "runbooks/examples/annual-pra-test.yaml", "--auto-approve", "--plain", "--db", db, "--speed", "50"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	_, allowed := signedTrail(t, "alice")
	r := runRepli(t, "", "verify", "--db", db, "--allowed-signers", allowed)
	if r.code != 1 || !strings.Contains(r.stdout, "run 1 run.ended") || !(strings.Contains(r.stdout, "SIGNATURE MISSING") || strings.Contains(r.stdout, "SIGNATURE UNSIGNED")) {
		t.Errorf("verify of an unsigned run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
