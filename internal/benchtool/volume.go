package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/store"
)

// volume is the volume copy's figure: one raw volume (BENCH_VOLUME_MIB,
// default 128) copied between two QEMU session daemons with directory
// pools, by repli's copy step and by virsh vol-download | virsh vol-upload,
// interleaved. repli's stream time comes from the run's volume.copied event
// (download → upload through the console, hashed on the way; creating the
// target and reading it back excluded); the whole run is timed too, with
// verify: none (like the pipe) and with verify: sha256 (the default: the
// target read back). Every copy, repli's and the pipe's, is checked against
// the source afterwards (not timed): a fast copy that is wrong is no figure.
func (b *bench) volume() error {
	mib := envInt("BENCH_VOLUME_MIB", 128)
	size := int64(mib) << 20
	virsh, err := lookPath("virsh")
	if err != nil {
		return err
	}
	if _, err := lookPath("qemu-system-x86_64"); err != nil {
		return fmt.Errorf("%w (the session daemons' QEMU driver needs it: install qemu-system-x86)", err)
	}
	dir, err := os.MkdirTemp("/tmp", "rbv-") // short: unix socket paths
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // the sites' users walk through it
		return err
	}
	l, err := newVolLab(dir, virsh, mib)
	if err != nil {
		return err
	}
	defer l.stop()
	p, s, vsh := l.p, l.s, l.vsh
	const vol = volName
	copied := l.copied
	runbook := func(verify string) (string, error) {
		f := filepath.Join(b.dir, "volume-"+verify+".yaml")
		return f, os.WriteFile(f, []byte(volumeRunbook(p.uri, s.uri, vol, verify)), 0o644)
	}
	rbNone, err := runbook("none")
	if err != nil {
		return err
	}
	rbSum, err := runbook("sha256")
	if err != nil {
		return err
	}
	runs := 0
	repliRun := func(rb string, stream *[]time.Duration) error {
		runs++
		d, err := b.volumeRun(rb, size, runs)
		*stream = append(*stream, d)
		return err
	}
	var tStream, tRunNone, tRunSum, tPipe, unused []time.Duration
	pipe := fmt.Sprintf("%s -q -c '%s' vol-download --pool images %s /dev/stdout | %s -q -c '%s' vol-upload --pool images %s /dev/stdin", virsh, p.uri, vol, virsh, s.uri, vol)
	for range b.n {
		for _, v := range []struct {
			name string
			out  *[]time.Duration
			run  func() error
		}{
			{"repli, verify: none", &tRunNone, func() error { return repliRun(rbNone, &tStream) }},
			{"virsh pipe", &tPipe, func() error {
				cmd := exec.Command("bash", "-o", "pipefail", "-c", pipe)
				if out, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("virsh vol-download | virsh vol-upload: %v: %s", err, bytes.TrimSpace(out))
				}
				return nil
			}},
			{"repli, verify: sha256", &tRunSum, func() error { return repliRun(rbSum, &unused) }},
		} {
			if v.name == "virsh pipe" { // vol-upload writes into a volume that exists
				if err := vsh(s, "vol-create-as", "images", vol, fmt.Sprintf("%dM", mib), "--format", "raw"); err != nil {
					return err
				}
			}
			t0 := time.Now()
			if err := v.run(); err != nil {
				return err
			}
			*v.out = append(*v.out, time.Since(t0))
			if err := copied(v.name); err != nil {
				return err
			}
		}
	}
	b.volumeRows(mib, median(tStream), median(tPipe), median(tRunNone), median(tRunSum))
	return nil
}

// volumeRows adds the copy's rows: its stream (st), the virsh pipe (pp),
// whole runs without (rn) and with (rs) reading the target back.
func (b *bench) volumeRows(mib int, st, pp, rn, rs time.Duration) {
	mibps := func(d time.Duration) string { return fmt.Sprintf("%.0f MiB/s", float64(mib)/d.Seconds()) }
	what := fmt.Sprintf("%d MiB raw volume, 2 QEMU session libvirtd on one machine", mib)
	b.add(row{"volume copy, stream: " + what, dur(st) + " (" + mibps(st) + ")",
		"virsh vol-download \\| virsh vol-upload: " + dur(pp) + " (" + mibps(pp) + ")", times(float64(st)/float64(pp)) + " the pipe", "≤ the pipe"})
	b.add(row{"the same, whole `repli run`, verify: none", dur(rn) + " (" + mibps(rn) + ")", "the pipe: " + dur(pp), times(float64(rn)/float64(pp)) + " the pipe", ""})
	b.add(row{"the same, whole `repli run`, verify: sha256 (read back)", dur(rs) + " (" + mibps(rs) + ")", "the pipe (no check): " + dur(pp), times(float64(rs)/float64(pp)) + " the pipe", ""})
	b.note("volume copy: the stream is the copy step's volume.copied duration (download → upload through the console, SHA-256 computed on the way; target creation excluded, as the pipe's vol-create-as is); a whole run adds startup, preflight, the audit trail and, with verify: sha256, reading the target back. Every copy was compared with the source afterwards.")
}

// volName is the volume the benchmark copies.
const volName = "bench.raw"

// volLab is two session daemons with a directory pool each, and a volume
// of random data at the primary.
type volLab struct {
	p, s  *session
	pools map[*session]string
	vsh   func(d *session, args ...string) error
	want  [32]byte
}

// volumeRun runs the copy's runbook and returns how long its stream took,
// as the trail's volume.copied says.
func (b *bench) volumeRun(rb string, size int64, n int) (time.Duration, error) {
	db := filepath.Join(b.dir, fmt.Sprintf("volume-%d.db", n))
	cmd := exec.Command(b.repli, "run", rb, "--auto-approve", "--plain", "--db", db, "--no-replica", "make bench")
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "REPLI_DB=", "REPLI_CONFIG=/dev/null")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("repli run: %v: %s", err, tail(out.String()))
	}
	vc, err := volumeCopied(db)
	if err != nil {
		return 0, err
	}
	if vc.Bytes != size {
		return 0, fmt.Errorf("repli copied %d bytes of %d", vc.Bytes, size)
	}
	return vc.Duration, nil
}

// copied checks the secondary's volume against the source, then removes
// it so that every variant starts from the same place.
func (l *volLab) copied(what string) error {
	got, err := fileSum(filepath.Join(l.pools[l.s], volName))
	if err != nil {
		return fmt.Errorf("%s: read the copy: %w", what, err)
	}
	if got != l.want {
		return fmt.Errorf("%s: the copy at the secondary differs from the source", what)
	}
	return l.vsh(l.s, "vol-delete", "--pool", "images", volName)
}

func (l *volLab) stop() {
	l.p.stop()
	if l.s != nil {
		l.s.stop()
	}
}

// newVolLab starts the two daemons and writes mib MiB of random data into
// the primary's volume.
func newVolLab(dir, virsh string, mib int) (*volLab, error) {
	size := int64(mib) << 20
	p, err := startSession(dir, "primary", "repli-primary")
	if err != nil {
		return nil, err
	}
	l := &volLab{p: p, pools: map[*session]string{}}
	if l.s, err = startSession(dir, "secondary", "repli-secondary"); err != nil {
		p.stop()
		return nil, err
	}
	s := l.s
	fail := func(err error) (*volLab, error) {
		l.stop()
		return nil, err
	}
	l.vsh = func(d *session, args ...string) error {
		out, err := exec.Command(virsh, append([]string{"-q", "-c", d.uri}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("virsh %v at %s: %v: %s", args, d.name, err, bytes.TrimSpace(out))
		}
		return nil
	}
	pools, vsh := l.pools, l.vsh
	for _, d := range []*session{p, s} {
		pool := filepath.Join(dir, d.name, "pool")
		if err := os.MkdirAll(pool, 0o755); err != nil {
			return fail(err)
		}
		if err := os.Chown(pool, d.uid, d.gid); err != nil {
			return fail(err)
		}
		if err := vsh(d, "pool-define-as", "images", "dir", "--target", pool); err != nil {
			return fail(err)
		}
		if err := vsh(d, "pool-start", "images"); err != nil {
			return fail(err)
		}
		pools[d] = pool
	}
	const vol = volName
	if err := vsh(p, "vol-create-as", "images", vol, fmt.Sprintf("%dM", mib), "--format", "raw"); err != nil {
		return fail(err)
	}
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(pools[p], vol), data, 0); err != nil {
		return fail(err)
	}
	l.want = sha256.Sum256(data)
	return l, nil
}

// session is a session-mode daemon and the user it runs as (who must own
// its pool's directory).
type session struct {
	*daemon
	uid, gid int
}

// startSession starts a session-mode libvirtd (qemu:///session, with the
// storage driver) for one site as an unprivileged user, as
// engine/libvirt/libvirtlab does for the tests (that package needs a
// testing.TB). As root the user is created when missing; otherwise the
// daemon runs as the current user.
func startSession(dir, name, userName string) (*session, error) {
	bin, err := lookPath("libvirtd")
	if err != nil {
		return nil, err
	}
	uid, gid := os.Getuid(), os.Getgid()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		if _, err := user.Lookup(userName); err != nil {
			if out, err := exec.Command("useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", "-p", "*", userName).CombinedOutput(); err != nil {
				if _, lerr := user.Lookup(userName); lerr != nil {
					return nil, fmt.Errorf("useradd %s: %v: %s", userName, err, out)
				}
			}
		}
		u, err := user.Lookup(userName)
		if err != nil {
			return nil, err
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	base := filepath.Join(dir, name)
	rt := filepath.Join(base, "rt")
	sock := filepath.Join(rt, "libvirt")
	for _, sub := range []string{sock, filepath.Join(base, "log"), filepath.Join(base, "cfg"), filepath.Join(base, "data"), filepath.Join(base, "home")} {
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(rt, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(base, "libvirtd.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "unix_sock_dir = %q\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\nlisten_tcp = 0\nlisten_tls = 0\nlog_outputs = \"3:file:%s/log/libvirtd.log\"\n", sock, base), 0o644); err != nil {
		return nil, err
	}
	// The QEMU capabilities cache the tests share (probing costs about 4 s).
	cache := filepath.Join("/tmp", "repli-qemu-cache", userName)
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return nil, err
	}
	if err := filepath.Walk(base, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		return nil, err
	}
	if err := os.Chown(cache, uid, gid); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(base, "log", "daemon.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	d := &session{daemon: &daemon{name: name, socket: filepath.Join(sock, "libvirt-sock")}, uid: uid, gid: gid}
	d.uri = "qemu+unix:///session?socket=" + d.socket
	d.cmd = exec.Command(bin, "-f", conf, "-p", filepath.Join(base, "libvirtd.pid"))
	d.cmd.Dir = base
	d.cmd.Env = []string{
		"HOME=" + filepath.Join(base, "home"),
		"XDG_RUNTIME_DIR=" + rt,
		"XDG_CONFIG_HOME=" + filepath.Join(base, "cfg"),
		"XDG_CACHE_HOME=" + cache,
		"XDG_DATA_HOME=" + filepath.Join(base, "data"),
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	d.cmd.Stdout, d.cmd.Stderr = out, out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start libvirtd for %s: %w", name, err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		c, err := net.DialTimeout("unix", d.socket, time.Second)
		if err == nil {
			c.Close()
			return d, nil
		}
		if time.Now().After(deadline) {
			d.stop()
			log, _ := os.ReadFile(filepath.Join(base, "log", "daemon.out"))
			return nil, fmt.Errorf("libvirtd for %s does not answer on %s: %s", name, d.socket, tail(string(log)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// volumeCopied reads the one volume copy of a bench run from its trail.
func volumeCopied(db string) (*engine.VolumeCopied, error) {
	ctx := context.Background()
	st, err := store.OpenReadOnly(ctx, db)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	evs, err := st.Events(ctx, 1)
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		if vc, ok := ev.(*engine.VolumeCopied); ok {
			return vc, nil
		}
	}
	return nil, fmt.Errorf("the run's trail (%s) records no volume copy", db)
}

func fileSum(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// volumeRunbook copies one volume of the pool images from the primary to
// the secondary, with the verification given.
func volumeRunbook(primary, secondary, vol, verify string) string {
	return fmt.Sprintf(`version: 1
name: bench-volume
sites:
  primary: {uri: %q}
  secondary: {uri: %q}
steps:
  - id: copy
    gate: none
    copy: {from: primary, to: secondary, volumes: [{pool: images, name: %s}], verify: %s}
`, primary, secondary, vol, verify)
}
