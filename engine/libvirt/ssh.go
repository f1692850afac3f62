package libvirt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// sshDialer reaches a daemon the way virsh does for qemu+ssh:// URIs: it runs
// the system ssh binary, so that the operator's ~/.ssh/config (aliases,
// ProxyJump), agent and known_hosts apply, and talks to the far side's
// virt-ssh-helper (or nc -U on the daemon's socket when the helper is
// missing) through the process's stdin and stdout.
type sshDialer struct {
	binary string
	args   []string
	env    []string
}

func newSSHDialer(u *url.URL, remote golibvirt.ConnectURI, env []string) (*sshDialer, error) {
	q := u.Query()
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("the ssh transport needs a host (an IP, a name or an alias of your ~/.ssh/config)")
	}
	binary := q.Get("command")
	if binary == "" {
		binary = "ssh"
	}
	var args []string
	if p := u.Port(); p != "" {
		args = append(args, "-p", p)
	}
	if user := u.User.Username(); user != "" {
		args = append(args, "-l", user)
	}
	if k := q.Get("keyfile"); k != "" {
		args = append(args, "-i", k)
	}
	// -T: no terminal on the far side, the stream carries binary RPC.
	// -e none: no escape character for the same reason.
	args = append(args, "-T", "-e", "none")
	// ssh cannot ask anything: the console owns the terminal. Keys, the
	// agent and the user's config still work; a missing key fails fast
	// with ssh's own message instead of waiting on an invisible prompt.
	if q.Get("no_tty") != "0" {
		args = append(args, "-o", "BatchMode=yes")
	}
	if q.Get("no_verify") == "1" {
		args = append(args, "-o", "StrictHostKeyChecking=no")
	}
	cmd, err := remoteCommand(q, remote, u.Path)
	if err != nil {
		return nil, err
	}
	args = append(args, "--", host, cmd)
	return &sshDialer{binary: binary, args: args, env: env}, nil
}

// remoteCommand is the shell command ssh runs on the far side, built as
// libvirt builds it: proxy=auto (the default) runs virt-ssh-helper when the
// far side has it and falls back to nc -U on the daemon's socket;
// proxy=native insists on the helper; proxy=netcat, or a netcat= path,
// uses nc only.
func remoteCommand(q url.Values, remote golibvirt.ConnectURI, path string) (string, error) {
	proxy := q.Get("proxy")
	netcat := q.Get("netcat")
	if proxy == "" {
		proxy = "auto"
		if netcat != "" {
			proxy = "netcat"
		}
	}
	if netcat == "" {
		netcat = "nc"
	}
	sock := shellQuote(q.Get("socket"))
	if q.Get("socket") == "" {
		// Left to the far side's shell to expand, like libvirt's own default.
		sock = `"/var/run/libvirt/libvirt-sock"`
		if path == "/session" {
			sock = `"${XDG_RUNTIME_DIR:-$HOME/.cache}/libvirt/libvirt-sock"`
		}
	}
	nc := fmt.Sprintf(`if %s -q 2>&1 | grep "requires an argument" >/dev/null 2>&1; then ARG=-q0; else ARG=; fi; exec %s $ARG -U %s`,
		shellQuote(netcat), shellQuote(netcat), sock)
	helper := "exec virt-ssh-helper " + shellQuote(string(remote))
	var script string
	switch proxy {
	case "auto":
		script = fmt.Sprintf("if command -v virt-ssh-helper >/dev/null 2>&1; then %s; else %s; fi", helper, nc)
	case "native":
		if q.Get("netcat") != "" {
			return "", errors.New("netcat= cannot be used with proxy=native")
		}
		script = helper
	case "netcat":
		script = nc
	default:
		return "", fmt.Errorf("proxy=%s: use auto, native or netcat", proxy)
	}
	// The far side's login shell parses the command line once; sh -c
	// parses the script again.
	return "sh -c " + shellQuote(script), nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (d *sshDialer) dial(ctx context.Context) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The child's ends of the pipes are plain files; ours are pollable, so
	// that closing them unblocks a pending Read or Write at once.
	childIn, ourOut, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ourIn, childOut, err := os.Pipe()
	if err != nil {
		childIn.Close()
		ourOut.Close()
		return nil, err
	}
	c := &procConn{r: ourIn, w: ourOut, exited: make(chan struct{}), stderr: &tailBuffer{max: 4096}}
	cmd := exec.Command(d.binary, d.args...)
	cmd.Env = d.env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = childIn, childOut, c.stderr
	// Its own session: no controlling terminal to prompt on, and the
	// operator's Ctrl-C reaches repli, which closes the link itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	childIn.Close()
	childOut.Close()
	if err != nil {
		ourIn.Close()
		ourOut.Close()
		return nil, fmt.Errorf("run %s: %w", d.binary, err)
	}
	c.cmd = cmd
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// procConn is a net.Conn over a child process's stdin and stdout.
type procConn struct {
	cmd     *exec.Cmd
	r, w    *os.File
	stderr  *tailBuffer
	exited  chan struct{}
	waitErr error
	once    sync.Once
}

func (c *procConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *procConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// Close ends the ssh process (and its ProxyCommand children, all in its
// process group) and returns without waiting for it to go.
func (c *procConn) Close() error {
	c.once.Do(func() {
		c.w.Close()
		c.r.Close()
		pid := c.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		go func() {
			select {
			case <-c.exited:
			case <-time.After(2 * time.Second):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}()
	})
	return nil
}

// Diagnose tells why the link failed as ssh told it on stderr, waiting a
// moment for ssh to finish saying it.
func (c *procConn) Diagnose() string {
	select {
	case <-c.exited:
	case <-time.After(500 * time.Millisecond):
	}
	msg := c.stderr.lastLines(3)
	select {
	case <-c.exited:
		var ee *exec.ExitError
		if errors.As(c.waitErr, &ee) && ee.ExitCode() > 0 {
			if msg == "" {
				return fmt.Sprintf("ssh exited with status %d", ee.ExitCode())
			}
			return fmt.Sprintf("ssh exited with status %d: %s", ee.ExitCode(), msg)
		}
	default:
	}
	return msg
}

func (c *procConn) LocalAddr() net.Addr  { return pipeAddr{} }
func (c *procConn) RemoteAddr() net.Addr { return pipeAddr{} }
func (c *procConn) SetDeadline(t time.Time) error {
	c.r.SetReadDeadline(t)
	return c.w.SetWriteDeadline(t)
}
func (c *procConn) SetReadDeadline(t time.Time) error  { return c.r.SetReadDeadline(t) }
func (c *procConn) SetWriteDeadline(t time.Time) error { return c.w.SetWriteDeadline(t) }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "ssh" }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = b.buf[over:]
	}
	return len(p), nil
}

// lastLines returns the last n non-empty lines, joined with "; ".
func (b *tailBuffer) lastLines(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var lines []string
	for _, l := range bytes.Split(b.buf, []byte("\n")) {
		if s := strings.TrimSpace(string(l)); s != "" {
			lines = append(lines, s)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
