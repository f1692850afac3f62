package replica

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// hostKeyPreference is the order in which Litestream's SSH client
// (golang.org/x/crypto/ssh, defaultHostKeyAlgos) asks for host key types.
// The server shows the first type it has, so of the keys known for a host
// the one to pin is the first in this order.
var hostKeyPreference = []string{
	"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"rsa-sha2-256", "rsa-sha2-512", "ssh-rsa", "ssh-dss", "ssh-ed25519",
}

// sftpHostKey is the host key to pin for u: the one given, else the one
// known_hosts has for the host (looked up by ssh-keygen -F, which also
// reads hashed entries). Without one the replica is refused.
func sftpHostKey(u *url.URL, o Options) (string, error) {
	if o.HostKey != "" {
		f := strings.Fields(o.HostKey)
		if len(f) < 2 {
			return "", fmt.Errorf("host key %q: write it as in known_hosts, e.g. \"ssh-ed25519 AAAA…\"", Clean(o.HostKey))
		}
		return f[0] + " " + f[1], nil
	}
	known := o.KnownHosts
	if known == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find known_hosts for the sftp replica: %w", err)
		}
		known = filepath.Join(home, ".ssh", "known_hosts")
	}
	host := u.Hostname()
	if p := u.Port(); p != "" && p != "22" {
		host = "[" + host + "]:" + p
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "22")
	}
	missing := fmt.Errorf("no host key for %s in %s: check the key of the other site's server, then ssh %s@%s once (or ssh-keyscan it into known_hosts), or give it with --host-key; repli never replicates to an unpinned host",
		Clean(host), known, Clean(u.User.Username()), Clean(addr))
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		return "", fmt.Errorf("look up the sftp host key: ssh-keygen not found (install openssh-client): %w", err)
	}
	if _, err := os.Stat(known); err != nil {
		return "", missing
	}
	out, err := exec.Command(keygen, "-F", host, "-f", known).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return "", missing
	} else if err != nil {
		return "", fmt.Errorf("look up %s in %s: ssh-keygen: %w", Clean(host), known, err)
	}
	found := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], "@") {
			continue
		}
		found[f[1]] = f[1] + " " + f[2]
	}
	for _, typ := range hostKeyPreference {
		if k, ok := found[typ]; ok {
			return k, nil
		}
	}
	return "", missing
}

// sftpKey is the private key Litestream logs in with: the one given, else
// the user's usual one. Litestream parses it itself and cannot ask for a
// passphrase or use an agent: a key that needs one is refused here, where
// the operator can be told, rather than in Litestream's log.
func sftpKey(given string) (string, error) {
	candidates := []string{given}
	if given == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the key for the sftp replica: %w", err)
		}
		candidates = nil
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			candidates = append(candidates, filepath.Join(home, ".ssh", n))
		}
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		p, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("find the key for the sftp replica: %w", err)
		}
		if keygen, err := exec.LookPath("ssh-keygen"); err == nil {
			var stderr bytes.Buffer
			cmd := exec.Command(keygen, "-y", "-P", "", "-f", p)
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				return "", fmt.Errorf("key %s cannot be read without a passphrase (%s): Litestream uses no agent; give the replica a key of its own without one (ssh-keygen -t ed25519 -N '' -f ~/.ssh/repli_replica), authorize it at the other site, and pass it with --identity",
					p, Clean(strings.TrimSpace(stderr.String())))
			}
		}
		return p, nil
	}
	if given != "" {
		return "", fmt.Errorf("key %s for the sftp replica: no such file", given)
	}
	return "", fmt.Errorf("no key for the sftp replica in ~/.ssh (id_ed25519, id_ecdsa, id_rsa): create one with ssh-keygen -t ed25519 -N '' and authorize it at the other site, or pass one with --identity")
}
