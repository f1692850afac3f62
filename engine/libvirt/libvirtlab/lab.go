// Package libvirtlab starts real libvirt daemons for tests: one per site,
// each independent of the others and of any system libvirt, in short
// directories under /tmp (unix socket paths are limited to 108 bytes).
//
//   - Test-driver daemons (StartTestDaemon) run as the current user with no
//     driver module loaded and serve test:///default; they start in about
//     0.1 s.
//   - QEMU daemons (StartQEMUDaemon) are session-mode daemons of an
//     unprivileged user, serving qemu:///session with tiny diskless TCG
//     guests (no /dev/kvm needed).
//
// Every process started here is stopped by t.Cleanup, QEMU processes
// included (they outlive their daemon), and dies with the test binary
// (parent-death signal) if it crashes. Leftovers of a killed test run are
// swept by the next one.
package libvirtlab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// Require skips the test, loudly, when libvirtd cannot be found; under
// CI=true it fails instead: CI must run these tests.
func Require(t testing.TB, binaries ...string) {
	t.Helper()
	for _, b := range append([]string{"libvirtd", "virsh"}, binaries...) {
		if _, err := lookPath(b); err != nil {
			unavailable(t, "%s not found (%v): install libvirt-daemon libvirt-clients qemu-system-x86 (make deps-libvirt does it on Debian)", b, err)
		}
	}
}

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("REAL-LIBVIRT TESTS CANNOT RUN: %s", msg)
	}
	t.Skipf("\n*** SKIPPED: REAL-LIBVIRT TEST NOT RUN ***\n*** %s ***", msg)
}

// lookPath also searches the sbin directories, missing from some PATHs.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not in PATH nor in /usr/sbin", name)
}

var sweepOnce sync.Once

// TempDir makes a short directory under /tmp, removed at cleanup. It
// records the test process's pid so that a later run can sweep what a
// crashed one left.
func TempDir(t testing.TB) string {
	t.Helper()
	sweepOnce.Do(sweepStale)
	dir, err := os.MkdirTemp("/tmp", "rl-")
	if err != nil {
		t.Fatal(err)
	}
	// Daemons of unprivileged users must be able to walk through it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killUnder(dir)
		os.RemoveAll(dir)
	})
	return dir
}

// sweepStale stops what earlier test runs that died left behind.
func sweepStale() {
	dirs, _ := filepath.Glob("/tmp/rl-*")
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid > 0 && Alive(pid) {
			continue
		}
		killUnder(dir)
		os.RemoveAll(dir)
	}
	// Client accounts of StartSSHD whose test directory is gone.
	passwd, _ := os.ReadFile("/etc/passwd")
	for _, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 6 || !strings.HasPrefix(f[0], "repli-ssh-") || !strings.HasPrefix(f[5], "/tmp/rl-") {
			continue
		}
		top := strings.Join(strings.SplitN(f[5], "/", 4)[:3], "/")
		if _, err := os.Stat(top); os.IsNotExist(err) {
			_ = exec.Command(mustLook("userdel"), f[0]).Run()
		}
	}
}

// killUnder kills every process whose command line or pid file lives under
// dir: the daemons, sshd, and the QEMU processes of their guests.
func killUnder(dir string) {
	pids := map[int]bool{}
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".pid") {
			if b, err := os.ReadFile(p); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
					pids[pid] = true
				}
			}
		}
		return nil
	})
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), dir+"/") {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			pids[pid] = true
		}
	}
	for pid := range pids {
		if Alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGCONT)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Alive tells whether pid runs; a zombie (exited, not yet reaped) does not.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// Daemon is one running libvirtd, the hypervisor of one site.
type Daemon struct {
	Name   string
	Dir    string
	Socket string
	// URI reaches the daemon through its socket, as virsh takes it.
	URI string
	// Driver is "test" or "qemu".
	Driver string
	// User runs the daemon ("" for the current user).
	User string

	t       testing.TB
	conf    string
	env     []string
	cred    *syscall.Credential
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	holder  *golibvirt.Libvirt
	stopped bool
}

// Listen makes a test-driver daemon also listen on TCP and TLS, on
// 127.0.0.1 only.
type Listen struct {
	TCPPort, TLSPort int
	// CertFile, KeyFile and CAFile are the daemon's TLS identity and the
	// CA its clients' certificates are checked against.
	CertFile, KeyFile, CAFile string
}

// StartTestDaemon starts a test-driver daemon for the site called name.
func StartTestDaemon(t testing.TB, dir, name string, listen *Listen) *Daemon {
	t.Helper()
	Require(t)
	d := &Daemon{Name: name, Dir: filepath.Join(dir, name), Driver: "test", t: t}
	run := filepath.Join(d.Dir, "run")
	for _, sub := range []string{run, filepath.Join(d.Dir, "log"), filepath.Join(d.Dir, "nodrivers")} {
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d.Socket = filepath.Join(run, "libvirt-sock")
	d.URI = "test+unix:///default?socket=" + d.Socket
	conf := daemonConf(run, d.Dir)
	if listen != nil {
		conf += fmt.Sprintf("listen_addr = \"127.0.0.1\"\nlisten_tcp = 1\ntcp_port = \"%d\"\nauth_tcp = \"none\"\n", listen.TCPPort)
		conf += fmt.Sprintf("listen_tls = 1\ntls_port = \"%d\"\nauth_tls = \"none\"\nkey_file = %q\ncert_file = %q\nca_file = %q\n",
			listen.TLSPort, listen.KeyFile, listen.CertFile, listen.CAFile)
	} else {
		conf += "listen_tcp = 0\nlisten_tls = 0\n"
	}
	d.conf = filepath.Join(d.Dir, "libvirtd.conf")
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// No driver module loads from an empty driver directory: the daemon
	// serves the built-in test driver only, and two of them coexist.
	d.env = append(os.Environ(), "LIBVIRT_DRIVER_DIR="+filepath.Join(d.Dir, "nodrivers"))
	d.start(listen != nil)
	t.Cleanup(d.Stop)
	return d
}

func daemonConf(sockDir, dir string) string {
	return fmt.Sprintf(`unix_sock_dir = %q
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:%s/log/libvirtd.log"
`, sockDir, dir)
}

// QEMUUser is the unprivileged user of a session-mode QEMU daemon, created
// when missing (repli-primary, repli-secondary, …). Its shell is /bin/sh
// and its password field "*" (no password can match), so that a test sshd
// can log it in with a key for the virt-ssh-helper path; it has no home.
func QEMUUser(t testing.TB, name string) (uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		return os.Getuid(), os.Getgid()
	}
	u, err := ensureUser(name, "/nonexistent", "/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	return u.uid, u.gid
}

type uidGid struct{ uid, gid int }

var userMu sync.Mutex

func ensureUser(name, home, shell string) (uidGid, error) {
	userMu.Lock()
	defer userMu.Unlock()
	if u, err := lookupUser(name); err == nil {
		return u, nil
	}
	out, err := exec.Command(mustLook("useradd"), "-M", "-d", home, "-s", shell, "-p", "*", name).CombinedOutput()
	if u, lerr := lookupUser(name); lerr == nil {
		return u, nil // created, maybe by a concurrent test binary
	}
	return uidGid{}, fmt.Errorf("useradd %s: %v: %s", name, err, out)
}

func lookupUser(name string) (uidGid, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return uidGid{}, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uidGid{uid, gid}, nil
}

func mustLook(name string) string {
	p, err := lookPath(name)
	if err != nil {
		return name
	}
	return p
}

// qemuCache is shared by the daemons of one user so that QEMU's
// capabilities are probed once per machine (about 4 s), not once per
// daemon; libvirt revalidates it against the emulator binary.
func qemuCache(name string, uid, gid int) string {
	dir := filepath.Join("/tmp", "repli-qemu-cache", name)
	os.MkdirAll(dir, 0o700)
	os.Chown(filepath.Dir(dir), 0, 0)
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chown(dir, uid, gid)
	return dir
}

// StartQEMUDaemon starts a session-mode daemon of user for the site called
// name, serving qemu:///session with TCG guests.
// Under go test -short it skips the test: QEMU guests are the slow part.
func StartQEMUDaemon(t testing.TB, dir, name, userName string) *Daemon {
	t.Helper()
	if testing.Short() {
		t.Skip("real QEMU guests: not run under -short")
	}
	Require(t, "qemu-system-x86_64")
	uid, gid := QEMUUser(t, userName)
	d := &Daemon{Name: name, Dir: filepath.Join(dir, name), Driver: "qemu", User: userName, t: t}
	rt := filepath.Join(d.Dir, "rt")
	sock := filepath.Join(rt, "libvirt")
	for _, sub := range []string{sock, filepath.Join(d.Dir, "log"), filepath.Join(d.Dir, "cfg"), filepath.Join(d.Dir, "data"), filepath.Join(d.Dir, "home")} {
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(rt, 0o700)
	d.Socket = filepath.Join(sock, "libvirt-sock")
	d.URI = "qemu+unix:///session?socket=" + d.Socket
	d.conf = filepath.Join(d.Dir, "libvirtd.conf")
	if err := os.WriteFile(d.conf, []byte(daemonConf(sock, d.Dir)+"listen_tcp = 0\nlisten_tls = 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chownTree(d.Dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	d.env = []string{
		"HOME=" + filepath.Join(d.Dir, "home"),
		"XDG_RUNTIME_DIR=" + rt,
		"XDG_CONFIG_HOME=" + filepath.Join(d.Dir, "cfg"),
		"XDG_CACHE_HOME=" + qemuCache(userName, uid, gid),
		"XDG_DATA_HOME=" + filepath.Join(d.Dir, "data"),
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	if os.Geteuid() == 0 {
		d.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	d.start(false)
	t.Cleanup(d.Stop)
	return d
}

// RuntimeDir is the XDG_RUNTIME_DIR of a QEMU daemon: virt-ssh-helper run
// by its user with this variable finds the daemon's socket by itself.
func (d *Daemon) RuntimeDir() string { return filepath.Join(d.Dir, "rt") }

// DirPool defines and starts a directory pool called name at the daemon,
// in a directory of the daemon's own (d.Dir/pool, owned by its user, so
// that a session daemon can write the volumes), and returns the directory.
func (d *Daemon) DirPool(t testing.TB, name string) string {
	t.Helper()
	pool := filepath.Join(d.Dir, "pool")
	if err := os.MkdirAll(pool, 0o755); err != nil {
		t.Fatal(err)
	}
	if d.User != "" {
		uid, gid := QEMUUser(t, d.User)
		if err := os.Chown(pool, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	d.Virsh(t, "pool-define-as", name, "dir", "--target", pool)
	d.Virsh(t, "pool-start", name)
	return pool
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// start runs the daemon and waits until its socket answers.
func (d *Daemon) start(listen bool) {
	d.t.Helper()
	bin := mustLook("libvirtd")
	args := []string{"-f", d.conf, "-p", filepath.Join(d.Dir, "libvirtd.pid")}
	if listen {
		args = append(args, "--listen")
	}
	out, err := os.OpenFile(filepath.Join(d.Dir, "log", "daemon.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		d.t.Fatal(err)
	}
	defer out.Close()
	os.Remove(d.Socket)
	cmd := exec.Command(bin, args...)
	cmd.Dir = d.Dir
	cmd.Env = d.env
	// Never the test runner's stdout: a daemon holding that pipe would keep
	// go test waiting.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: d.cred}
	if err := cmd.Start(); err != nil {
		unavailable(d.t, "cannot start libvirtd for site %s: %v", d.Name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	d.mu.Lock()
	d.cmd, d.exited, d.stopped = cmd, exited, false
	d.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("unix", d.Socket, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(d.Dir, "log", "daemon.out"))
			unavailable(d.t, "libvirtd for site %s exited at start: %s", d.Name, strings.TrimSpace(string(log)))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("libvirtd for site %s: socket %s does not answer after 15s", d.Name, d.Socket)
		}
	}
	if d.Driver == "test" {
		d.hold()
	}
}

// hold keeps a connection open: the test driver forgets its domains when
// the last connection to test:///default closes.
func (d *Daemon) hold() {
	d.t.Helper()
	l := golibvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(d.Socket), dialers.WithLocalTimeout(5*time.Second)))
	if err := l.ConnectToURI(golibvirt.TestDefault); err != nil {
		d.t.Fatalf("site %s: connect to test:///default: %v", d.Name, err)
	}
	d.mu.Lock()
	d.holder = l
	d.mu.Unlock()
}

// PID is the daemon's process id.
func (d *Daemon) PID() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cmd.Process.Pid
}

// Pause freezes the daemon (SIGSTOP): it accepts connections and answers
// nothing, like a hung host.
func (d *Daemon) Pause() { _ = syscall.Kill(d.PID(), syscall.SIGSTOP) }

// Continue thaws a paused daemon.
func (d *Daemon) Continue() { _ = syscall.Kill(d.PID(), syscall.SIGCONT) }

// Kill kills the daemon outright, like a crash, and waits until it is gone.
func (d *Daemon) Kill() {
	d.mu.Lock()
	cmd, exited, holder := d.cmd, d.exited, d.holder
	d.holder = nil
	d.stopped = true
	d.mu.Unlock()
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGCONT)
	_ = cmd.Process.Kill()
	<-exited
	if holder != nil {
		go holder.Disconnect() // fails at once: the daemon is gone
	}
}

// Restart starts a killed or stopped daemon again, with the same
// configuration. A test-driver daemon comes back with test:///default's
// initial state.
func (d *Daemon) Restart() {
	d.t.Helper()
	d.start(strings.Contains(readFile(d.conf), "listen_tcp = 1"))
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// Stop destroys the daemon's running guests (their QEMU processes would
// outlive it), then stops it. It is registered as a cleanup.
func (d *Daemon) Stop() {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		killUnder(d.Dir)
		return
	}
	d.stopped = true
	cmd, exited, holder := d.cmd, d.exited, d.holder
	d.holder = nil
	d.mu.Unlock()
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGCONT)
	if d.Driver == "qemu" {
		d.destroyAll()
	}
	if holder != nil {
		done := make(chan struct{})
		go func() { holder.Disconnect(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	killUnder(d.Dir)
}

func (d *Daemon) destroyAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, mustLook("virsh"), "-q", "-c", d.URI, "list", "--name").Output()
	if err != nil {
		return
	}
	for _, name := range strings.Fields(string(out)) {
		_ = exec.CommandContext(ctx, mustLook("virsh"), "-q", "-c", d.URI, "destroy", name).Run()
	}
}

// Virsh runs virsh against the daemon and returns its trimmed output.
func (d *Daemon) Virsh(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, mustLook("virsh"), append([]string{"-q", "-c", d.URI}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh -c %s %s: %v: %s", d.URI, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// State is the domain's state as virsh domstate says it ("running", "shut off").
func (d *Daemon) State(t testing.TB, domain string) string {
	t.Helper()
	return d.Virsh(t, "domstate", domain)
}

// TestDomainXML is a minimal test-driver domain.
func TestDomainXML(name string) string {
	return fmt.Sprintf("<domain type='test'><name>%s</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>", name)
}

// QEMUDomainXML is a tiny diskless TCG guest: it boots in about a second,
// uses about 44 MB, and ignores ACPI shutdown (it has no OS), which is what
// a runbook's "graceful shutdown times out → force" path needs.
func QEMUDomainXML(name string) string {
	return fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>
`, name)
}

// Define defines domains at the daemon in the given state ("running" or
// "shutoff"), with the driver's minimal XML.
func (d *Daemon) Define(t testing.TB, state string, names ...string) {
	t.Helper()
	for _, n := range names {
		x := TestDomainXML(n)
		if d.Driver == "qemu" {
			x = QEMUDomainXML(n)
		}
		f := filepath.Join(d.Dir, n+".xml")
		if err := os.WriteFile(f, []byte(x), 0o644); err != nil {
			t.Fatal(err)
		}
		d.Virsh(t, "define", f)
		if state == "running" {
			d.Virsh(t, "start", n)
		}
	}
}
