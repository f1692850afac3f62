// Package sshsig signs and verifies with the operators' own SSH keys, in
// OpenSSH's sshsig format (PROTOCOL.sshsig), by running ssh-keygen -Y: the
// reference implementation that auditors already have and trust, so that a
// signature repli makes can be checked without repli.
//
// The key is the private key file named by $REPLI_SIGN_KEY, else the first
// key of the running ssh-agent ($SSH_AUTH_SOCK). ssh-keygen never prompts:
// it runs without a controlling terminal and without askpass, so a key that
// needs a passphrase is reported, not waited on (load it into ssh-agent).
package sshsig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Namespace is the sshsig namespace of every repli signature: a signature
// made for repli is never valid for git, file signing or anything else.
const Namespace = "repli"

// KeyEnv names the private key file to sign with.
const KeyEnv = "REPLI_SIGN_KEY"

// ErrNoKey is returned when there is no key to sign with: REPLI_SIGN_KEY is
// not set and no ssh-agent holds a key.
var ErrNoKey = errors.New("no SSH key to sign with")

// ErrBadSignature is returned by Verify and CheckValid for a signature that
// does not verify: not made over this data, not by an allowed key of the
// principal, or not a signature at all.
var ErrBadSignature = errors.New("signature does not verify")

// signTimeout bounds one signature: an agent key marked for confirmation
// (ssh-add -c) waits for a person.
const signTimeout = 30 * time.Second

// Signer signs with one SSH key.
type Signer struct {
	// keyFile is given to ssh-keygen -f: the private key, or, for a key in
	// the agent, a file holding its public half.
	keyFile string
	agent   string // SSH_AUTH_SOCK, for a key in the agent
	pub     string // the public key, authorized_keys format
	fp      string // SHA256:...
	source  string
	tmp     string // removed by Close
}

// FromEnv returns the signer of $REPLI_SIGN_KEY, else of the first key of
// the ssh-agent at $SSH_AUTH_SOCK. With neither, the error is ErrNoKey and
// says how to provide one.
func FromEnv(ctx context.Context) (*Signer, error) {
	if k := os.Getenv(KeyEnv); k != "" {
		return FromKeyFile(ctx, k)
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		return FromAgent(ctx, sock)
	}
	return nil, fmt.Errorf("%w: set %s to a private key file, or load a key into ssh-agent (ssh-add)", ErrNoKey, KeyEnv)
}

// FromKeyFile signs with the private key in path, which must not need a
// passphrase (a key that does goes into ssh-agent instead).
func FromKeyFile(ctx context.Context, path string) (*Signer, error) {
	out, err := run(ctx, nil, "", "-y", "-P", "", "-f", path)
	if err != nil {
		return nil, fmt.Errorf("read signing key %s (%s): %w; a key with a passphrase goes into ssh-agent (ssh-add %s; unset %s)",
			path, KeyEnv, err, path, KeyEnv)
	}
	pub := strings.TrimSpace(string(out))
	fp, err := fingerprintLine(pub)
	if err != nil {
		return nil, fmt.Errorf("read signing key %s: %w", path, err)
	}
	return &Signer{keyFile: path, pub: pub, fp: fp, source: KeyEnv + "=" + path}, nil
}

// FromAgent signs with the first key of the ssh-agent listening on sock.
func FromAgent(ctx context.Context, sock string) (*Signer, error) {
	cmd := exec.CommandContext(ctx, "ssh-add", "-L")
	cmd.Env = append(env(), "SSH_AUTH_SOCK="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.Output()
	if err != nil {
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 1 {
			return nil, fmt.Errorf("%w: the ssh-agent at %s holds no key; load one with ssh-add, or set %s", ErrNoKey, sock, KeyEnv)
		}
		return nil, fmt.Errorf("%w: ask the ssh-agent at %s for its keys (ssh-add -L): %v", ErrNoKey, sock, err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	fp, err := fingerprintLine(first)
	if err != nil {
		return nil, fmt.Errorf("read the ssh-agent's first key: %w", err)
	}
	dir, err := os.MkdirTemp("", "repli-sign-")
	if err != nil {
		return nil, fmt.Errorf("prepare signing: %w", err)
	}
	pubFile := filepath.Join(dir, "key.pub")
	if err := os.WriteFile(pubFile, []byte(first+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("prepare signing: %w", err)
	}
	return &Signer{keyFile: pubFile, agent: sock, pub: first, fp: fp, source: "ssh-agent " + sock, tmp: dir}, nil
}

// Close removes what the signer keeps on disk (the agent key's public half).
func (s *Signer) Close() error {
	if s == nil || s.tmp == "" {
		return nil
	}
	return os.RemoveAll(s.tmp)
}

// Fingerprint is the key's SHA256 fingerprint, as ssh-keygen -l prints it.
func (s *Signer) Fingerprint() string { return s.fp }

// PublicKey is the key, as a line of authorized_keys or allowed_signers.
func (s *Signer) PublicKey() string { return s.pub }

// Source says where the key comes from: REPLI_SIGN_KEY=path or the agent.
func (s *Signer) Source() string { return s.source }

// Sign returns the armored signature (-----BEGIN SSH SIGNATURE-----) of
// data in namespace repli: what ssh-keygen -Y sign -n repli writes.
func (s *Signer) Sign(ctx context.Context, data []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, signTimeout)
	defer cancel()
	out, err := run(ctx, data, s.agent, "-Y", "sign", "-n", Namespace, "-f", s.keyFile)
	if err != nil {
		return "", fmt.Errorf("sign with %s (%s): %w", s.fp, s.source, err)
	}
	return string(out), nil
}

// Verify checks that armored is a signature of data in namespace repli by
// a key that allowedSigners (an OpenSSH allowed_signers file) allows for
// principal, and returns the key's fingerprint. A signature that does not
// verify is ErrBadSignature, with ssh-keygen's reason.
func Verify(ctx context.Context, allowedSigners, principal string, data []byte, armored string) (string, error) {
	return withSig(armored, func(sig string) (string, error) {
		out, err := run(ctx, data, "", "-Y", "verify", "-f", allowedSigners, "-I", principal, "-n", Namespace, "-s", sig)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadSignature, err)
		}
		return goodKey(out), nil
	})
}

// CheckValid checks that armored is a signature of data in namespace repli
// by the key it carries, without judging that key (ssh-keygen -Y
// check-novalidate), and returns the key's fingerprint.
func CheckValid(ctx context.Context, data []byte, armored string) (string, error) {
	return withSig(armored, func(sig string) (string, error) {
		out, err := run(ctx, data, "", "-Y", "check-novalidate", "-n", Namespace, "-s", sig)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadSignature, err)
		}
		return goodKey(out), nil
	})
}

// FindPrincipals returns the principals allowedSigners allows the key of
// armored for (ssh-keygen -Y find-principals); none is not an error.
func FindPrincipals(ctx context.Context, allowedSigners, armored string) ([]string, error) {
	var ps []string
	_, err := withSig(armored, func(sig string) (string, error) {
		out, err := run(ctx, nil, "", "-Y", "find-principals", "-f", allowedSigners, "-n", Namespace, "-s", sig)
		if err != nil {
			return "", nil // ssh-keygen exits 1 when no principal matches
		}
		ps = strings.Fields(string(out))
		return "", nil
	})
	return ps, err
}

// KeyOf returns the fingerprint of the key an armored signature carries,
// read from the signature blob (PROTOCOL.sshsig: "SSHSIG", version, public
// key, ...). It proves nothing: Verify does.
func KeyOf(armored string) (string, error) {
	body := strings.TrimSpace(armored)
	body = strings.TrimPrefix(body, "-----BEGIN SSH SIGNATURE-----")
	body = strings.TrimSuffix(body, "-----END SSH SIGNATURE-----")
	blob, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil || !bytes.HasPrefix(blob, []byte("SSHSIG")) || len(blob) < 14 {
		return "", fmt.Errorf("%w: not an SSH signature", ErrBadSignature)
	}
	rest := blob[10:] // magic, uint32 version
	n := binary.BigEndian.Uint32(rest)
	if uint64(n) > uint64(len(rest)-4) {
		return "", fmt.Errorf("%w: truncated SSH signature", ErrBadSignature)
	}
	return fingerprint(rest[4 : 4+n]), nil
}

// fingerprintLine is the fingerprint of a key given as an authorized_keys
// line ("ssh-ed25519 AAAA... comment").
func fingerprintLine(line string) (string, error) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return "", fmt.Errorf("%q is not an SSH public key", line)
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return "", fmt.Errorf("%q is not an SSH public key: %w", f[0], err)
	}
	return fingerprint(blob), nil
}

func fingerprint(blob []byte) string {
	sum := sha256.Sum256(blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// goodKey picks the fingerprint out of ssh-keygen's "Good "repli"
// signature ... with ED25519 key SHA256:...".
func goodKey(out []byte) string {
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "SHA256:") {
			return f
		}
	}
	return ""
}

// withSig writes an armored signature to a private temporary file for
// ssh-keygen -s, and removes it after.
func withSig(armored string, f func(path string) (string, error)) (string, error) {
	dir, err := os.MkdirTemp("", "repli-sig-")
	if err != nil {
		return "", fmt.Errorf("prepare signature check: %w", err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "sig")
	if err := os.WriteFile(p, []byte(armored), 0o600); err != nil {
		return "", fmt.Errorf("prepare signature check: %w", err)
	}
	return f(p)
}

// env is the environment ssh-keygen runs in: never a passphrase prompt,
// and the agent only when one is asked for.
func env() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "SSH_AUTH_SOCK", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "DISPLAY":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "SSH_ASKPASS_REQUIRE=never")
}

// run runs ssh-keygen with data on stdin, in a session of its own (no
// terminal to prompt on). Its error carries ssh-keygen's own words.
func run(ctx context.Context, data []byte, agent string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ssh-keygen", args...)
	cmd.Env = env()
	if agent != "" {
		cmd.Env = append(cmd.Env, "SSH_AUTH_SOCK="+agent)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("ssh-keygen is not installed (install openssh-client): %w", err)
		}
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if msg == "" {
			return nil, fmt.Errorf("ssh-keygen %s: %w", args[0]+" "+args[1], err)
		}
		return nil, fmt.Errorf("ssh-keygen: %s: %w", msg, err)
	}
	return out, nil
}
