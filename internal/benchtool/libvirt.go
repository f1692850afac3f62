package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

func numCPU() int { return runtime.NumCPU() }

// daemon is a test-driver libvirtd serving one site, as
// engine/libvirt/libvirtlab starts them for the tests (that package needs a
// testing.TB): its own socket directory, no driver module, no TCP. The
// connection held open keeps the test driver's domains (it forgets them
// when its last client leaves).
type daemon struct {
	name, socket, uri string
	cmd               *exec.Cmd
	conn              *golibvirt.Libvirt
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found: install libvirt-daemon libvirt-clients (make deps-libvirt)", name)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func startDaemon(dir, name string) (*daemon, error) {
	bin, err := lookPath("libvirtd")
	if err != nil {
		return nil, err
	}
	d := &daemon{name: name}
	base := filepath.Join(dir, name)
	run := filepath.Join(base, "run")
	for _, sub := range []string{run, filepath.Join(base, "log"), filepath.Join(base, "nodrivers")} {
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, err
		}
	}
	d.socket = filepath.Join(run, "libvirt-sock")
	d.uri = "test+unix:///default?socket=" + d.socket
	conf := filepath.Join(base, "libvirtd.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "unix_sock_dir = %q\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\nlisten_tcp = 0\nlisten_tls = 0\nlog_outputs = \"3:file:%s/log/libvirtd.log\"\n", run, base), 0o644); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(base, "log", "daemon.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	d.cmd = exec.Command(bin, "-f", conf, "-p", filepath.Join(base, "libvirtd.pid"))
	d.cmd.Env = append(os.Environ(), "LIBVIRT_DRIVER_DIR="+filepath.Join(base, "nodrivers"))
	d.cmd.Stdout, d.cmd.Stderr = out, out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start libvirtd: %w", err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		c, err := net.DialTimeout("unix", d.socket, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("libvirtd for %s does not answer on %s", name, d.socket)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.conn, err = connect(d.socket)
	if err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

func connect(socket string) (*golibvirt.Libvirt, error) {
	l := golibvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(socket)))
	if err := l.ConnectToURI(golibvirt.ConnectURI("test:///default")); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", socket, err)
	}
	return l, nil
}

func (d *daemon) stop() {
	if d.conn != nil {
		d.conn.Disconnect()
	}
	if d.cmd != nil && d.cmd.Process != nil {
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

const (
	stateRunning = 1
	stateShutoff = 5
)

// each runs fn on every name with workers goroutines.
func each(names []string, workers int, fn func(string) error) error {
	ch := make(chan string)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range ch {
				if err := fn(n); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, n := range names {
		ch <- n
	}
	close(ch)
	wg.Wait()
	return first
}

// rawSwitchover is the anchor: what a program that only calls libvirt does
// for the same switchover, over one connection per site: look the domain
// up, shut it down, wait until it is shut off (the test driver does it at
// once), then look it up at the other site and start it.
func rawSwitchover(p, s *golibvirt.Libvirt, names []string, workers int) error {
	err := each(names, workers, func(n string) error {
		dom, err := p.DomainLookupByName(n)
		if err != nil {
			return err
		}
		if err := p.DomainShutdown(dom); err != nil {
			return err
		}
		for {
			st, _, err := p.DomainGetState(dom, 0)
			if err != nil {
				return err
			}
			if st == stateShutoff {
				return nil
			}
			time.Sleep(time.Millisecond)
		}
	})
	if err != nil {
		return err
	}
	return each(names, workers, func(n string) error {
		dom, err := s.DomainLookupByName(n)
		if err != nil {
			return err
		}
		return s.DomainCreate(dom)
	})
}

// virshSwitchover runs one virsh process per operation, as a shell loop
// would.
func virshSwitchover(p, s *daemon, names []string) error {
	virsh, err := lookPath("virsh")
	if err != nil {
		return err
	}
	for _, step := range []struct {
		d    *daemon
		verb string
	}{{p, "shutdown"}, {s, "start"}} {
		for _, n := range names {
			if out, err := exec.Command(virsh, "-q", "-c", step.d.uri, step.verb, n).CombinedOutput(); err != nil {
				return fmt.Errorf("virsh %s %s: %v: %s", step.verb, n, err, out)
			}
		}
	}
	return nil
}

// reset puts every domain back: running at the primary, shut off at the
// secondary. Not timed.
func reset(p, s *golibvirt.Libvirt, names []string) error {
	return each(names, 16, func(n string) error {
		for _, site := range []struct {
			l    *golibvirt.Libvirt
			want int32
		}{{p, stateRunning}, {s, stateShutoff}} {
			dom, err := site.l.DomainLookupByName(n)
			if err != nil {
				dom, err = site.l.DomainDefineXML(fmt.Sprintf("<domain type='test'><name>%s</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>", n))
				if err != nil {
					return err
				}
			}
			st, _, err := site.l.DomainGetState(dom, 0)
			if err != nil {
				return err
			}
			switch {
			case st == site.want:
			case site.want == stateRunning:
				err = site.l.DomainCreate(dom)
			default:
				err = site.l.DomainDestroy(dom)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// switchoverRunbook stops every domain at the primary and starts them all
// at the secondary, the shape of a site switchover; the start is one group
// so that the engine may run it in parallel.
func switchoverRunbook(names []string, primary, secondary string) string {
	list := strings.Join(names, ", ")
	return fmt.Sprintf(`version: 1
name: bench-switchover
title: %d-domain switchover
sites:
  primary: {uri: %q}
  secondary: {uri: %q}
steps:
  - id: stop
    gate: none
    shutdown: {site: primary, max_parallel: 16, domains: [%s]}
  - id: start
    gate: none
    start: {site: secondary, groups: [[%s]]}
`, len(names), primary, secondary, list, list)
}

// sites are the libvirt section's two test-driver daemons, their domains
// and the switchover runbook between them.
type sites struct {
	p, s    *daemon
	names   []string
	runbook string
	dir     string
}

func (l *sites) stop() {
	l.s.stop()
	l.p.stop()
	os.RemoveAll(l.dir)
}

// libvirtSites starts the two daemons of the n-domain switchover and
// writes its runbook.
func (b *bench) libvirtSites(n int) (*sites, error) {
	dir, err := os.MkdirTemp("/tmp", "rbl-") // short: unix socket paths
	if err != nil {
		return nil, err
	}
	p, err := startDaemon(dir, "primary")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s, err := startDaemon(dir, "secondary")
	if err != nil {
		p.stop()
		os.RemoveAll(dir)
		return nil, err
	}
	l := &sites{p: p, s: s, dir: dir, names: make([]string, n), runbook: filepath.Join(b.dir, fmt.Sprintf("switchover-%d.yaml", n))}
	for i := range l.names {
		l.names[i] = fmt.Sprintf("vm-%03d", i)
	}
	if err := os.WriteFile(l.runbook, []byte(switchoverRunbook(l.names, p.uri, s.uri)), 0o644); err != nil {
		l.stop()
		return nil, err
	}
	return l, nil
}

// switchover is figure 1: the same switchover by repli, by raw go-libvirt
// (sequential, 16 workers) and by one virsh per operation.
func (b *bench) switchover() error {
	n := envInt("BENCH_DOMAINS", 500)
	lab, err := b.libvirtSites(n)
	if err != nil {
		return err
	}
	defer lab.stop()
	p, s, names, rb := lab.p, lab.s, lab.names, lab.runbook
	var tRepli, tSeq, tPar, tVirsh []time.Duration
	var events string
	for i := range b.n {
		for _, v := range []struct {
			out *[]time.Duration
			run func() error
		}{
			{&tRepli, func() error {
				db := filepath.Join(b.dir, fmt.Sprintf("switch-%d.db", i))
				cmd := exec.Command(b.repli, "run", rb, "--auto-approve", "--plain", "--db", db)
				cmd.Env = append(os.Environ(), "NO_COLOR=1", "REPLI_DB=", "REPLI_CONFIG=/dev/null")
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("repli run: %v: %s", err, tail(out.String()))
				}
				events = countEvents(db)
				return nil
			}},
			{&tSeq, func() error { return rawSwitchover(p.conn, s.conn, names, 1) }},
			{&tPar, func() error { return rawSwitchover(p.conn, s.conn, names, 16) }},
			{&tVirsh, func() error {
				if i > 0 || os.Getenv("BENCH_VIRSH") == "0" {
					return errSkip
				}
				return virshSwitchover(p, s, names)
			}},
		} {
			if err := reset(p.conn, s.conn, names); err != nil {
				return fmt.Errorf("reset the sites: %w", err)
			}
			t0 := time.Now()
			err := v.run()
			d := time.Since(t0)
			if err == errSkip {
				continue
			}
			if err != nil {
				return err
			}
			*v.out = append(*v.out, d)
		}
	}
	r, seq, par := median(tRepli), median(tSeq), median(tPar)
	b.add(row{fmt.Sprintf("%d-domain switchover, 2 libvirtd (test driver), audit included (%s events)", n, events),
		dur(r), "raw go-libvirt, 16 workers: " + dur(par), times(float64(r)/float64(par)) + " raw", "≤ 2× raw"})
	b.add(row{"the same", dur(r), "raw go-libvirt, sequential: " + dur(seq), times(float64(r)/float64(seq)) + " raw", ""})
	if len(tVirsh) > 0 {
		v := median(tVirsh)
		b.add(row{"the same", dur(r), "one virsh per operation: " + dur(v), times(float64(v)/float64(r)) + " faster", "≥ 40× faster"})
	}
	return nil
}

var errSkip = fmt.Errorf("skipped")

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return s
}

// countEvents is the number of events in a trail, read with sqlite3 when
// it is installed.
func countEvents(db string) string {
	out, err := exec.CommandContext(context.Background(), "sqlite3", "-readonly", db, "SELECT count(*) FROM events").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}
