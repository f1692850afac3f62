package engine_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"

	"github.com/repli-dr/repli/engine"
)

// ageKeyFile is an identity file as age-keygen writes it: comments, then
// the key.
func ageKeyFile(t *testing.T) (text, recipient string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	r := id.Recipient().String()
	return "# created: 2026-11-30T02:00:00Z\n# public key: " + r + "\n" + id.String() + "\n", r
}

func sshKeys(t *testing.T) (plain, locked, fingerprint string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(b)), string(pem.EncodeToMemory(lb)), ssh.FingerprintSHA256(sp)
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	ageText, recipient := ageKeyFile(t)
	plain, locked, fp := sshKeys(t)
	tests := []struct {
		name, secret, id, kind string
	}{
		{"age identity file", ageText, recipient, engine.KeyIDAge},
		{"age identity alone", strings.Split(ageText, "\n")[2], recipient, engine.KeyIDAge},
		{"ssh private key", plain, fp, engine.KeyIDSSH},
		{"ssh private key with a passphrase", locked, fp, engine.KeyIDSSH},
		{"random key", "3q2+7wAAAAC6kLq8wL7lnvSVd5a4z0FqTnU2ZyE=", "sha256:", engine.KeyIDHash},
		{"password", "hunter2-very-secret", "", engine.KeyIDNone},
		{"empty", "", "", engine.KeyIDNone},
	}
	for _, tt := range tests {
		id, kind := engine.Fingerprint(tt.secret)
		if kind != tt.kind || !strings.HasPrefix(id, tt.id) || (tt.id == "" && id != "") {
			t.Errorf("%s: %q (%s), want %q (%s)", tt.name, id, kind, tt.id, tt.kind)
		}
		if tt.secret != "" && strings.Contains(id, strings.TrimSpace(tt.secret)) {
			t.Errorf("%s: the identifier holds the secret", tt.name)
		}
	}
	if a, _ := engine.Fingerprint("3q2+7wAAAAC6kLq8wL7lnvSVd5a4z0FqTnU2ZyE="); len(a) != len("sha256:")+16 {
		t.Errorf("hash prefix %q: want 16 hex digits", a)
	}
	if a, _ := engine.Fingerprint("3q2+7wAAAAC6kLq8wL7lnvSVd5a4z0FqTnU2ZyF="); a == "" {
		t.Error("no identifier for a long key")
	} else if b, _ := engine.Fingerprint("3q2+7wAAAAC6kLq8wL7lnvSVd5a4z0FqTnU2ZyE="); a == b {
		t.Error("two keys have the same identifier")
	}
}

// TestSecretSuppliedIsJournaledBeforeTheCommand: the key handed to an exec
// is recorded (which env, which file, by whom, its age recipient), after
// the action's intent and before the process starts; its value is in no
// event; the projection lists it under its step.
func TestSecretSuppliedIsJournaledBeforeTheCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "customer-key.txt")
	text, recipient := ageKeyFile(t)
	if err := os.WriteFile(key, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `version: 1
name: secret-record
sites:
  p: {uri: sim://p}
steps:
  - id: prepare
    exec: {command: [true]}
  - id: decrypt
    retries: 1
    exec:
      command: 'test -n "$AGE_KEY"'
      shell: true
      secret_env: {AGE_KEY: "` + key + `"}
`
	h := newHarness(t, mustParse(t, "secret.yaml", src), true)
	if o, err := h.run(nil); o != engine.OutcomeSucceeded || err != nil {
		t.Fatalf("outcome %s err %v", o, err)
	}
	secret := strings.Split(text, "\n")[2]
	var order []string
	for _, ev := range h.journal.events {
		b, _ := engine.EncodeEvent(ev)
		if strings.Contains(string(b), secret) || strings.Contains(string(b), strings.TrimPrefix(secret, "AGE-SECRET-KEY-1")) {
			t.Errorf("%s event holds the key: %s", ev.Kind(), b)
		}
		switch e := ev.(type) {
		case *engine.ActionIntent:
			order = append(order, "intent "+e.Step)
		case *engine.SecretSupplied:
			order = append(order, "secret "+e.Step)
		case *engine.ExecStarted:
			order = append(order, "started "+e.Step)
		}
	}
	if got, want := strings.Join(order, ", "), "intent prepare, started prepare, intent decrypt, secret decrypt, started decrypt"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	evs := h.journal.find("secret.supplied")
	if len(evs) != 1 {
		t.Fatalf("%d secret.supplied events, want 1", len(evs))
	}
	s := evs[0].(*engine.SecretSupplied)
	if s.Step != "decrypt" || s.Env != "AGE_KEY" || s.File != key || s.Operator != "alice" || s.KeyID != recipient || s.KeyIDKind != engine.KeyIDAge || s.Action == 0 {
		t.Errorf("recorded %+v", s)
	}
	p, err := engine.ProgressOf(h.journal.events)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.SecretsOf("decrypt"); len(got) != 1 || got[0] != s || len(p.SecretsOf("prepare")) != 0 {
		t.Errorf("projection: %+v", p.Secrets)
	}
	if c := p.Clone(); len(c.Secrets) != 1 || c.Secrets[0] != s {
		t.Errorf("clone: %+v", c.Secrets)
	}
	// Round trip through the journal's encoding.
	b, _ := engine.EncodeEvent(s)
	back, err := engine.DecodeEvent("secret.supplied", b, *s.EventMeta())
	if err != nil || *back.(*engine.SecretSupplied) != *s {
		t.Errorf("decoded %+v, %v", back, err)
	}
}

// TestSecretNotRecordedMeansNotStarted: when the trail cannot take the
// record of the key, the command is not started.
func TestSecretNotRecordedMeansNotStarted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, marker := filepath.Join(dir, "key.txt"), filepath.Join(dir, "ran")
	text, _ := ageKeyFile(t)
	if err := os.WriteFile(key, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `version: 1
name: secret-unrecorded
sites:
  p: {uri: sim://p}
steps:
  - id: decrypt
    exec:
      command: [touch, "` + marker + `"]
      secret_env: {AGE_KEY: "` + key + `"}
`
	h := newHarness(t, mustParse(t, "secret.yaml", src), true)
	h.journal.failOn = "secret.supplied"
	if o, _ := h.run(nil); o == engine.OutcomeSucceeded {
		t.Fatalf("outcome %s with the key unrecorded", o)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran although the key's use was not recorded")
	}
	if n := len(h.journal.find("exec.started")); n != 0 {
		t.Errorf("%d exec.started events", n)
	}
}
