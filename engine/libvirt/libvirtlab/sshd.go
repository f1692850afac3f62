package libvirtlab

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SSHHost is one alias of the client's ~/.ssh/config, with its own key.
type SSHHost struct {
	Alias string
	// User is the account the alias logs in as on the far side.
	User string
	// Env is set on the far side for sessions of this alias's key
	// (authorized_keys environment="…"), e.g. PATH without
	// virt-ssh-helper, or the XDG_RUNTIME_DIR of a session daemon.
	Env []string
}

// SSHD is a throwaway sshd on 127.0.0.1 and a throwaway client account
// whose home holds an ~/.ssh/config naming the aliases, their keys and a
// known_hosts with sshd's key: ssh run by that account reaches the aliases
// with no option on its command line, as an operator's ssh does.
type SSHD struct {
	Port int
	Dir  string
	// Home is the client account's home; ssh reads the config there (ssh
	// takes the home from the password database, not from $HOME).
	Home string
	// User, UID and GID are the client account.
	User     string
	UID, GID int
}

// RequireSSHD skips (or fails under CI=true) when sshd or ssh is missing,
// or when the test is not root (it creates accounts).
func RequireSSHD(t testing.TB) {
	t.Helper()
	for _, b := range []string{"sshd", "ssh", "ssh-keygen", "useradd", "userdel"} {
		if _, err := lookPath(b); err != nil {
			unavailable(t, "%s not found: install openssh-server openssh-client (make deps-libvirt does it on Debian)", b)
		}
	}
	if os.Geteuid() != 0 {
		unavailable(t, "the ssh transport test runs sshd and creates a client account: it needs root")
	}
}

// StartSSHD starts sshd on a free loopback port with the given aliases.
func StartSSHD(t testing.TB, dir string, hosts ...SSHHost) *SSHD {
	t.Helper()
	RequireSSHD(t)
	s := &SSHD{Dir: filepath.Join(dir, "sshd"), Port: FreePort(t)}
	s.Home = filepath.Join(s.Dir, "home")
	dotssh := filepath.Join(s.Home, ".ssh")
	// The client account must reach its home: only .ssh is private.
	if err := os.MkdirAll(s.Home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dotssh, 0o700); err != nil {
		t.Fatal(err)
	}
	keygen := func(path string) string {
		t.Helper()
		out, err := exec.Command(mustLook("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", "repli-test", "-f", path).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		return strings.TrimSpace(readFile(path + ".pub"))
	}
	hostPub := keygen(filepath.Join(s.Dir, "host_key"))
	var auth, conf strings.Builder
	for _, h := range hosts {
		pub := keygen(filepath.Join(dotssh, "id_"+h.Alias))
		var opts []string
		for _, e := range h.Env {
			opts = append(opts, fmt.Sprintf("environment=%q", e))
		}
		if len(opts) > 0 {
			auth.WriteString(strings.Join(opts, ",") + " ")
		}
		auth.WriteString(pub + "\n")
		fmt.Fprintf(&conf, "Host %s\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile ~/.ssh/id_%s\n  IdentitiesOnly yes\n  StrictHostKeyChecking yes\n  UserKnownHostsFile ~/.ssh/known_hosts\n  GlobalKnownHostsFile /dev/null\n\n",
			h.Alias, s.Port, h.User, h.Alias)
	}
	f := func(p, content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	f(filepath.Join(s.Dir, "authorized_keys"), auth.String(), 0o644)
	f(filepath.Join(dotssh, "config"), conf.String(), 0o600)
	f(filepath.Join(dotssh, "known_hosts"), fmt.Sprintf("[127.0.0.1]:%d %s\n", s.Port, strings.Join(strings.Fields(hostPub)[:2], " ")), 0o600)
	f(filepath.Join(s.Dir, "sshd_config"), fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host_key
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitUserEnvironment yes
X11Forwarding no
AllowTcpForwarding no
Subsystem sftp internal-sftp
LogLevel VERBOSE
`, s.Port, s.Dir, s.Dir, s.Dir), 0o644)

	// The client account: ssh reads ~/.ssh/config from the home the
	// password database gives, so the test needs an account of its own.
	var b [4]byte
	rand.Read(b[:])
	s.User = "repli-ssh-" + hex.EncodeToString(b[:])
	u, err := ensureUser(s.User, s.Home, "/usr/sbin/nologin")
	if err != nil {
		t.Fatal(err)
	}
	s.UID, s.GID = u.uid, u.gid
	t.Cleanup(func() { exec.Command(mustLook("userdel"), s.User).Run() })
	if err := chownTree(s.Home, s.UID, s.GID); err != nil {
		t.Fatal(err)
	}
	// sshd insists on its privilege separation directory.
	os.MkdirAll("/run/sshd", 0o755)

	log, err := os.Create(filepath.Join(s.Dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(mustLook("sshd"), "-D", "-e", "-f", filepath.Join(s.Dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-exited:
			t.Fatalf("sshd exited at start: %s", readFile(filepath.Join(s.Dir, "sshd.log")))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not listen on 127.0.0.1:%d after 10s: %s", s.Port, readFile(filepath.Join(s.Dir, "sshd.log")))
		}
	}
}

// Log is sshd's log so far, for failure messages.
func (s *SSHD) Log() string { return readFile(filepath.Join(s.Dir, "sshd.log")) }

// SSHWrapper writes an executable that runs the system ssh as the client
// account, for a driver's ?command= URI parameter: the ssh that runs then
// reads that account's ~/.ssh/config.
func (s *SSHD) SSHWrapper(t testing.TB) string {
	t.Helper()
	p := filepath.Join(s.Dir, "ssh-as-client")
	script := fmt.Sprintf("#!/bin/sh\nexec %s --reuid=%d --regid=%d --clear-groups -- %s \"$@\"\n", mustLook("setpriv"), s.UID, s.GID, mustLook("ssh"))
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// FreePort returns a TCP port free on 127.0.0.1 right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
