package sshsig

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// KeyPair is a key made by ssh-keygen for a test.
type keyPair struct{ priv, pub string }

func newKey(t *testing.T, dir, name string, passphrase string) keyPair {
	t.Helper()
	p := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return keyPair{p, p + ".pub"}
}

func allowedSigners(t *testing.T, dir string, lines map[string]keyPair) string {
	t.Helper()
	var b strings.Builder
	for principal, k := range lines {
		pub, err := os.ReadFile(k.pub)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(principal + " " + string(pub))
	}
	p := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startAgent runs a real ssh-agent on a socket of the test's and loads keys
// into it. It is ended when the test ends.
func startAgent(t *testing.T, keys ...keyPair) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ssh-agent: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		// The socket file exists once bound, a little before the agent
		// listens: wait until it answers.
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if i == 500 {
			t.Fatal("ssh-agent did not make its socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, k := range keys {
		add := exec.Command("ssh-add", "-q", k.priv)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("ssh-add: %v\n%s", err, out)
		}
	}
	return sock
}

func TestSignAndVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	alice, bob := newKey(t, dir, "alice", ""), newKey(t, dir, "bob", "")
	allowed := allowedSigners(t, dir, map[string]keyPair{"alice": alice, "bob": bob})
	data := []byte("repli run 7 event 42:abcd\n")

	tests := []struct {
		name   string
		signer func(t *testing.T) *Signer
	}{
		{"key file", func(t *testing.T) *Signer {
			s, err := FromKeyFile(ctx, alice.priv)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"ssh-agent", func(t *testing.T) *Signer {
			sock := startAgent(t, alice, bob) // the first key is alice's
			s, err := FromAgent(ctx, sock)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.signer(t)
			sig, err := s.Sign(ctx, data)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(sig, "-----BEGIN SSH SIGNATURE-----") {
				t.Fatalf("signature = %q", sig)
			}
			fp, err := Verify(ctx, allowed, "alice", data, sig)
			if err != nil || fp != s.Fingerprint() {
				t.Fatalf("Verify = %q, %v; want %s", fp, err, s.Fingerprint())
			}
			if k, err := KeyOf(sig); err != nil || k != s.Fingerprint() {
				t.Errorf("KeyOf = %q, %v", k, err)
			}
			if ps, err := FindPrincipals(ctx, allowed, sig); err != nil || len(ps) != 1 || ps[0] != "alice" {
				t.Errorf("FindPrincipals = %v, %v", ps, err)
			}
			if _, err := CheckValid(ctx, data, sig); err != nil {
				t.Errorf("CheckValid = %v", err)
			}
			// Not bob's, not this data, not another namespace.
			if _, err := Verify(ctx, allowed, "bob", data, sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify as bob = %v, want ErrBadSignature", err)
			}
			if _, err := Verify(ctx, allowed, "alice", []byte("repli run 7 event 43:abcd\n"), sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify of other data = %v, want ErrBadSignature", err)
			}
			if _, err := CheckValid(ctx, []byte("other"), sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("CheckValid of other data = %v, want ErrBadSignature", err)
			}
			gitSig := filepath.Join(t.TempDir(), "data")
			os.WriteFile(gitSig, data, 0o600)
			if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-n", "git", "-f", alice.priv, gitSig).CombinedOutput(); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			other, _ := os.ReadFile(gitSig + ".sig")
			if _, err := Verify(ctx, allowed, "alice", data, string(other)); !errors.Is(err, ErrBadSignature) {
				t.Errorf("a signature of namespace git verified as repli's: %v", err)
			}
		})
	}
}

func TestNoKey(t *testing.T) {
	t.Setenv(KeyEnv, "")
	t.Setenv("SSH_AUTH_SOCK", "")
	if _, err := FromEnv(context.Background()); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "ssh-add") {
		t.Errorf("FromEnv with no key = %v, want ErrNoKey saying how to add one", err)
	}
	empty := startAgent(t)
	t.Setenv("SSH_AUTH_SOCK", empty)
	if _, err := FromEnv(context.Background()); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "holds no key") {
		t.Errorf("FromEnv with an empty agent = %v, want ErrNoKey", err)
	}
}

func TestFromEnvPrefersKeyFile(t *testing.T) {
	dir := t.TempDir()
	alice, bob := newKey(t, dir, "alice", ""), newKey(t, dir, "bob", "")
	t.Setenv("SSH_AUTH_SOCK", startAgent(t, bob))
	t.Setenv(KeyEnv, alice.priv)
	s, err := FromEnv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(alice.pub)
	if s.PublicKey() != strings.TrimSpace(string(want)) || !strings.Contains(s.Source(), alice.priv) {
		t.Errorf("signer = %s from %s, want alice's key file", s.PublicKey(), s.Source())
	}
}

// TestPassphraseKeyIsReportedNotPrompted: a key with a passphrase in
// REPLI_SIGN_KEY must not make ssh-keygen wait on the terminal.
func TestPassphraseKeyIsReportedNotPrompted(t *testing.T) {
	t.Parallel()
	k := newKey(t, t.TempDir(), "carol", "correct horse")
	_, err := FromKeyFile(context.Background(), k.priv)
	if err == nil || !strings.Contains(err.Error(), "ssh-agent (ssh-add "+k.priv) {
		t.Errorf("FromKeyFile of a key with a passphrase = %v, want advice to load it into ssh-agent", err)
	}
}
