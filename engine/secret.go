package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

// SecretSupplied records that a secret was handed to a command: which one
// (the environment variable the command reads, and the --secret-var it came
// from), the file it was read from, who supplied it (the operator of the
// console running the step), when (Meta.At), and an identifier of the key,
// never its value. It is journaled after the file is read and before the
// command starts, so a command never holds a key the trail does not record.
type SecretSupplied struct {
	Meta
	Step   string `json:"step"`
	Action int64  `json:"action,omitempty"`
	// Env is the environment variable the command reads the secret from;
	// Var the --secret-var that gave it, when one did.
	Env string `json:"env"`
	Var string `json:"var,omitempty"`
	// File is where the secret was read from: the operator's path.
	File     string `json:"file"`
	Operator string `json:"operator"`
	// KeyID identifies the key without revealing it (see Fingerprint);
	// KeyIDKind says what it is: KeyIDAge, KeyIDSSH, KeyIDHash or KeyIDNone.
	KeyID     string `json:"key_id,omitempty"`
	KeyIDKind string `json:"key_id_kind"`
}

// Kind implements Event.
func (*SecretSupplied) Kind() string { return "secret.supplied" }

func init() { eventTypes["secret.supplied"] = func() Event { return &SecretSupplied{} } }

// What a SecretSupplied's KeyID is.
const (
	// KeyIDAge: the age recipients (age1…) of the age identities in the
	// secret: public, what the backup was encrypted to.
	KeyIDAge = "age recipient"
	// KeyIDSSH: the SHA256 fingerprint of an SSH private key's public key.
	KeyIDSSH = "ssh public key"
	// KeyIDHash: the first 16 hex digits of the secret's SHA-256, for a
	// long secret of no known format (a random key).
	KeyIDHash = "sha256 prefix"
	// KeyIDNone: a short secret (a password) gets no identifier: a hash of
	// a short secret lets anyone who reads the trail check guesses.
	KeyIDNone = "none"
)

// minHashed is the length from which a secret of no known format is
// identified by a hash prefix: 32 bytes are a random key, not a password.
const minHashed = 32

// Fingerprint identifies a secret without revealing it: an age identity
// file (age-keygen's, comments allowed) by its recipients, an SSH private
// key (passphrase-protected or not) by its public key's fingerprint, any
// other secret of at least 32 bytes by a SHA-256 prefix, and a shorter one
// not at all.
func Fingerprint(secret string) (id, kind string) {
	if ids, err := age.ParseIdentities(strings.NewReader(secret)); err == nil {
		var rs []string
		for _, i := range ids {
			if x, ok := i.(*age.X25519Identity); ok {
				rs = append(rs, x.Recipient().String())
			}
		}
		if len(rs) > 0 {
			return strings.Join(rs, ", "), KeyIDAge
		}
	}
	if strings.Contains(secret, "PRIVATE KEY-----") {
		signer, err := ssh.ParsePrivateKey([]byte(secret))
		if err == nil {
			return ssh.FingerprintSHA256(signer.PublicKey()), KeyIDSSH
		}
		var pp *ssh.PassphraseMissingError
		if errors.As(err, &pp) && pp.PublicKey != nil {
			return ssh.FingerprintSHA256(pp.PublicKey), KeyIDSSH
		}
	}
	if len(secret) < minHashed {
		return "", KeyIDNone
	}
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])[:16], KeyIDHash
}

// readSecrets reads the files of a command's secret_env and, once all are
// read, tells c.supplied of each (which journals who supplied it) before
// the command may start. It returns the environment entries to add and the
// non-empty values, to redact.
func readSecrets(c cmdSpec) (environ, values []string, err error) {
	keys := sortedKeys(c.secretEnv)
	read := make([]string, len(keys))
	for i, k := range keys {
		b, err := os.ReadFile(c.secretEnv[k])
		if err != nil {
			// The path is the operator's; the content is never shown.
			return nil, values, fmt.Errorf("read the secret for %s from %s: %w", k, c.secretEnv[k], errors.Unwrap(err))
		}
		read[i] = strings.TrimRight(string(b), "\r\n")
		environ = append(environ, k+"="+read[i])
		if read[i] != "" {
			values = append(values, read[i])
		}
	}
	for i, k := range keys {
		if c.supplied == nil {
			break
		}
		if err := c.supplied(k, c.secretEnv[k], read[i]); err != nil {
			return nil, values, fmt.Errorf("record who supplied the secret for %s (the command was not started): %w", k, err)
		}
	}
	return environ, values, nil
}

// secretSupplied is the event for a secret read from file for env var env.
func (e *Engine) secretSupplied(step string, action int64, env, file, value string) *SecretSupplied {
	ev := &SecretSupplied{Step: step, Action: action, Env: env, File: file, Operator: e.opts.Operator}
	ev.KeyID, ev.KeyIDKind = Fingerprint(value)
	var vars []string
	for name, f := range e.opts.SecretVars {
		if f == file {
			vars = append(vars, name)
		}
	}
	sort.Strings(vars)
	if len(vars) > 0 {
		ev.Var = vars[0]
	}
	return ev
}

// applySecretSupplied folds a secret handed to a command into the
// projection. Progress.Apply calls it.
func (p *Progress) applySecretSupplied(e *SecretSupplied) {
	p.Secrets = append(p.Secrets, e)
}

// SecretsOf are the secrets handed to a step's commands, in order.
func (p *Progress) SecretsOf(step string) []*SecretSupplied {
	var out []*SecretSupplied
	for _, s := range p.Secrets {
		if s.Step == step {
			out = append(out, s)
		}
	}
	return out
}
