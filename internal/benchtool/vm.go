package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
)

// Figure 6: a switchover of real guests. Each site is a session-mode QEMU
// daemon of its own unprivileged user with tiny diskless TCG guests (no
// /dev/kvm needed), started by engine/libvirt/libvirtlab as the tests start
// them. The guests have no OS: they ignore the ACPI shutdown request, so
// each shutdown is the runbook's graceful timeout, then a forced stop, as
// for a guest that hangs on its way down. The same switchover runs with
// the domains in parallel (max_parallel, start in groups) and strictly one
// at a time (max_parallel: 1), interleaved.

// labTB lets libvirtlab, written for tests, start daemons for the
// benchmark: it records cleanups and turns Fatal and Skip into a panic
// that vmSwitchover recovers as the reason the figure is not measured.
// Only the methods libvirtlab calls are implemented; the embedded
// interface is nil.
type labTB struct {
	testing.TB
	cleanups []func()
}

type labStop struct{ why string }

func (t *labTB) Helper()                         {}
func (t *labTB) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }
func (t *labTB) Fatal(a ...any)                  { panic(labStop{fmt.Sprint(a...)}) }
func (t *labTB) Fatalf(format string, a ...any)  { panic(labStop{fmt.Sprintf(format, a...)}) }
func (t *labTB) Skip(a ...any)                   { panic(labStop{fmt.Sprint(a...)}) }
func (t *labTB) Skipf(format string, a ...any)   { panic(labStop{fmt.Sprintf(format, a...)}) }
func (t *labTB) Errorf(format string, a ...any)  { panic(labStop{fmt.Sprintf(format, a...)}) }
func (t *labTB) Logf(format string, args ...any) {}
func (t *labTB) Name() string                    { return "benchtool-vm" }

func (t *labTB) close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// vmRunbook switches n real guests from the primary to the secondary:
// each shutdown waits 1 s for the guest, then forces it off; each start
// waits until the guest runs. parallel domains at a time (1: in order).
func vmRunbook(names []string, primary, secondary string, parallel int) string {
	list := strings.Join(names, ", ")
	start := fmt.Sprintf("start: {site: secondary, max_parallel: %d, domains: [%s], timeout: 2m}", parallel, list)
	if parallel > 1 {
		var groups []string
		for i := 0; i < len(names); i += parallel {
			groups = append(groups, "["+strings.Join(names[i:min(i+parallel, len(names))], ", ")+"]")
		}
		start = fmt.Sprintf("start: {site: secondary, groups: [%s], timeout: 2m}", strings.Join(groups, ", "))
	}
	return fmt.Sprintf(`version: 1
name: bench-vm-switchover
title: %d real guests, %d at a time
sites:
  primary: {uri: %q}
  secondary: {uri: %q}
steps:
  - id: stop
    gate: none
    shutdown: {site: primary, max_parallel: %d, domains: [%s], timeout: 1s, force: true}
  - id: start
    gate: none
    %s
`, len(names), parallel, primary, secondary, parallel, list, start)
}

// vmSwitchover is figure 6; opt-in (BENCH_ONLY=vm): about 3 minutes.
func (b *bench) vmSwitchover() (err error) {
	for _, bin := range []string{"qemu-system-x86_64", "libvirtd", "virsh"} {
		if _, err := lookPath(bin); err != nil {
			return fmt.Errorf("skipped: %s is missing (apt-get install qemu-system-x86 libvirt-daemon libvirt-clients)", bin)
		}
	}
	testing.Init() // libvirtlab asks testing.Short()
	t := &labTB{}
	defer t.close()
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(labStop)
			if !ok {
				panic(r)
			}
			err = errors.New(strings.TrimSpace(strings.ReplaceAll(s.why, "*", "")))
		}
	}()
	n := envInt("BENCH_VMS", 10)
	dir := libvirtlab.TempDir(t)
	p := libvirtlab.StartQEMUDaemon(t, dir, "primary", "repli-primary")
	s := libvirtlab.StartQEMUDaemon(t, dir, "secondary", "repli-secondary")
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("g%02d", i)
	}
	p.Define(t, "shutoff", names...)
	s.Define(t, "shutoff", names...)
	pc, err := connectURI(p.Socket, "qemu:///session")
	if err != nil {
		return err
	}
	defer pc.Disconnect()
	sc, err := connectURI(s.Socket, "qemu:///session")
	if err != nil {
		return err
	}
	defer sc.Disconnect()
	par := min(n, envInt("BENCH_VM_PARALLEL", 5))
	rbs := map[int]string{}
	for _, k := range []int{par, 1} {
		rbs[k] = filepath.Join(b.dir, fmt.Sprintf("vm-%d.yaml", k))
		if err := os.WriteFile(rbs[k], []byte(vmRunbook(names, p.URI, s.URI, k)), 0o644); err != nil {
			return err
		}
	}
	took := map[int][]time.Duration{}
	for i := range min(b.n, envInt("BENCH_VM_N", 3)) {
		for _, k := range []int{par, 1} {
			if err := vmReset(pc, sc, names); err != nil {
				return fmt.Errorf("put the guests back (running at the primary, off at the secondary): %w", err)
			}
			db := filepath.Join(b.dir, fmt.Sprintf("vm-%d-%d.db", k, i))
			cmd := exec.Command(b.repli, "run", rbs[k], "--auto-approve", "--plain", "--db", db)
			cmd.Env = append(os.Environ(), "NO_COLOR=1", "REPLI_DB=", "REPLI_CONFIG=/dev/null")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			t0 := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("repli run (%d real guests, %d at a time): %v: %s", n, k, err, tail(out.String()))
			}
			took[k] = append(took[k], time.Since(t0))
			fmt.Fprintf(os.Stderr, "bench: vm: %d at a time: %s\n", k, time.Since(t0).Round(time.Millisecond))
		}
	}
	destroyAll(sc, names)
	destroyAll(pc, names)
	tp, ts := median(took[par]), median(took[1])
	b.add(row{fmt.Sprintf("switchover of %d real TCG guests per site (QEMU session daemons; shutdown: 1 s graceful, then forced), %d at a time", n, par),
		dur(tp), "the same, strictly one at a time (`max_parallel: 1`): " + dur(ts), times(float64(ts)/float64(tp)) + " faster", ""})
	return nil
}

func connectURI(socket, uri string) (*golibvirt.Libvirt, error) {
	l := golibvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(socket), dialers.WithLocalTimeout(5*time.Second)))
	if err := l.ConnectToURI(golibvirt.ConnectURI(uri)); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", socket, err)
	}
	return l, nil
}

// vmReset starts every guest at p and destroys it at s, in parallel. Not
// timed.
func vmReset(p, s *golibvirt.Libvirt, names []string) error {
	if err := destroyAll(s, names); err != nil {
		return err
	}
	return each(names, len(names)+1, func(n string) error {
		dom, err := p.DomainLookupByName(n)
		if err != nil {
			return err
		}
		if st, _, err := p.DomainGetState(dom, 0); err == nil && st == stateRunning {
			return nil
		}
		return p.DomainCreate(dom)
	})
}

func destroyAll(l *golibvirt.Libvirt, names []string) error {
	return each(names, len(names)+1, func(n string) error {
		dom, err := l.DomainLookupByName(n)
		if err != nil {
			return err
		}
		if st, _, err := l.DomainGetState(dom, 0); err == nil && st != stateRunning {
			return nil
		}
		return l.DomainDestroy(dom)
	})
}
