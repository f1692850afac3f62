package libvirt

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
	"github.com/repli-dr/repli/runbooks"
)

// volLab is two QEMU session daemons, each with a directory storage pool
// called images, and a 64 MiB raw volume db-01.raw at the primary, the
// disk of a (shut off) domain db-01, holding random data and a marker.
type volLab struct {
	primary, secondary *libvirtlab.Daemon
	poolDirs           map[string]string
	sites              map[string]*Site
	marker             []byte
	markerAt           int64
}

const volSize = 64 << 20

func newVolLab(t testing.TB) *volLab { return newVolLabWith(t, false) }

// newVolLabWith: with byVolume, db-01's disk is written as a volume of the
// pool (<disk type='volume'>), a definition that is valid at both sites.
func newVolLabWith(t testing.TB, byVolume bool) *volLab {
	t.Helper()
	dir := libvirtlab.TempDir(t)
	l := &volLab{poolDirs: map[string]string{}, sites: map[string]*Site{}, markerAt: 40<<20 + 12345}
	l.marker = []byte(fmt.Sprintf("repli-marker-%d", time.Now().UnixNano()))
	for _, site := range []string{"primary", "secondary"} {
		d := libvirtlab.StartQEMUDaemon(t, dir, site, "repli-"+site)
		l.poolDirs[site] = d.DirPool(t, "images")
		if site == "primary" {
			l.primary = d
		} else {
			l.secondary = d
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := Open(ctx, site, []string{d.URI}, Options{CallTimeout: 30 * time.Second})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		l.sites[site] = s
	}
	l.primary.Virsh(t, "vol-create-as", "images", "db-01.raw", "64M", "--format", "raw")
	path := filepath.Join(l.poolDirs["primary"], "db-01.raw")
	data := make([]byte, volSize)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	copy(data[l.markerAt:], l.marker)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	xmlFile := filepath.Join(l.primary.Dir, "db-01.xml")
	disk := "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='" + path + "'/><target dev='vda' bus='virtio'/></disk>"
	if byVolume {
		disk = "<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='images' volume='db-01.raw'/><target dev='vda' bus='virtio'/></disk>"
	}
	domXML := strings.Replace(libvirtlab.QEMUDomainXML("db-01"), "<devices>", "<devices>\n    "+disk, 1)
	if err := os.WriteFile(xmlFile, []byte(domXML), 0o644); err != nil {
		t.Fatal(err)
	}
	l.primary.Virsh(t, "define", xmlFile)
	return l
}

func (l *volLab) runbook(t testing.TB, extra string) *runbooks.Runbook {
	t.Helper()
	src := fmt.Sprintf(`version: 1
name: lab-copy
sites:
  primary: {uri: %q}
  secondary: {uri: %q}
steps:
  - id: final-sync
    on_failure: abort
    copy:
      from: primary
      to: secondary
      volumes: [{domain: db-01}]%s
`, l.primary.URI, l.secondary.URI, extra)
	rb, diags := runbooks.Parse("lab-copy.yaml", []byte(src))
	if rb == nil {
		t.Fatal(diags)
	}
	return rb
}

type memTrail struct {
	mu     sync.Mutex
	events []engine.Event
}

func (j *memTrail) Append(_ context.Context, ev engine.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, ev)
	return nil
}

// run runs the runbook's copy with auto-approve against the lab's sites
// (or the ones given) and returns the outcome and the trail.
func (l *volLab) run(t testing.TB, rb *runbooks.Runbook, sites map[string]engine.Hypervisor) (engine.Outcome, *memTrail) {
	t.Helper()
	if sites == nil {
		sites = map[string]engine.Hypervisor{"primary": l.sites["primary"], "secondary": l.sites["secondary"]}
	}
	j := &memTrail{}
	eng, err := engine.New(rb, sites, j, engine.Options{RunID: 1, Operator: "lab", AutoApprove: true})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range eng.Events() {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	outcome, err := eng.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return outcome, j
}

func (j *memTrail) find(kind string) []engine.Event {
	var out []engine.Event
	for _, ev := range j.events {
		if ev.Kind() == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (j *memTrail) failure() string {
	for _, ev := range j.events {
		if sc, ok := ev.(*engine.StepChanged); ok && sc.State == engine.StepFailed {
			return sc.Reason
		}
	}
	return ""
}

// TestVolumeCopyBetweenTwoDaemons: a copy step moves db-01's disk from one
// real libvirt daemon to the other through their volume streams; the
// marker written into the primary's volume is in the secondary's copy.
func TestVolumeCopyBetweenTwoDaemons(t *testing.T) {
	t.Parallel()
	l := newVolLab(t)
	outcome, j := l.run(t, l.runbook(t, ""), nil)
	if outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", outcome, j.failure())
	}
	got, err := os.ReadFile(filepath.Join(l.poolDirs["secondary"], "db-01.raw"))
	if err != nil {
		t.Fatalf("the secondary has no copy: %v", err)
	}
	if len(got) != volSize || !bytes.Equal(got[l.markerAt:l.markerAt+int64(len(l.marker))], l.marker) {
		t.Fatalf("the marker is not in the secondary's copy (%d bytes)", len(got))
	}
	want, _ := os.ReadFile(filepath.Join(l.poolDirs["primary"], "db-01.raw"))
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatal("the copy differs from the source")
	}
	if info := l.secondary.Virsh(t, "vol-info", "--pool", "images", "db-01.raw", "--bytes"); !strings.Contains(info, fmt.Sprint(volSize)) {
		t.Errorf("libvirt at the secondary does not know the volume as 64 MiB:\n%s", info)
	}
	vc := j.find("volume.copied")
	if len(vc) != 1 {
		t.Fatalf("%d volume.copied", len(vc))
	}
	c := vc[0].(*engine.VolumeCopied)
	if c.Bytes != volSize || c.SourceSHA256 != c.TargetSHA256 || c.SourceSHA256 != fmt.Sprintf("%x", sha256.Sum256(want)) {
		t.Errorf("volume.copied %+v", c)
	}
	t.Logf("64 MiB copied in %s (%.1f MiB/s), verified by reading it back", c.Duration.Round(time.Millisecond), c.BytesPerSecond/(1<<20))

	// Again, with target: create: the volume exists now, and this run did
	// not write it.
	outcome, j = l.run(t, l.runbook(t, ""), nil)
	if outcome == engine.OutcomeSucceeded || !strings.Contains(j.failure(), "target: overwrite") {
		t.Errorf("a second create: outcome %s, reason %s", outcome, j.failure())
	}
	// With target: overwrite it is replaced.
	if outcome, j = l.run(t, l.runbook(t, "\n      target: overwrite"), nil); outcome != engine.OutcomeSucceeded {
		t.Errorf("overwrite: outcome %s: %s", outcome, j.failure())
	}
}

// corrupting is a site whose uploads have one byte flipped on the way.
type corrupting struct {
	*Site
	at int64
}

func (c corrupting) WriteVolume(ctx context.Context, v engine.VolumeRef, r io.Reader) error {
	return c.Site.WriteVolume(ctx, v, &flipper{r: r, at: c.at})
}

type flipper struct {
	r   io.Reader
	n   int64
	at  int64
	hit bool
}

func (f *flipper) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if !f.hit && f.at >= f.n && f.at < f.n+int64(n) {
		b[f.at-f.n] ^= 0xff
		f.hit = true
	}
	f.n += int64(n)
	return n, err
}

// TestVolumeCopyChecksumMismatch: a byte changed between the two daemons
// is caught by reading the target back, and the copy is not done.
func TestVolumeCopyChecksumMismatch(t *testing.T) {
	t.Parallel()
	l := newVolLab(t)
	sites := map[string]engine.Hypervisor{"primary": l.sites["primary"], "secondary": corrupting{Site: l.sites["secondary"], at: 33 << 20}}
	outcome, j := l.run(t, l.runbook(t, ""), sites)
	if outcome == engine.OutcomeSucceeded {
		t.Fatal("a corrupted copy succeeded")
	}
	if r := j.failure(); !strings.Contains(r, "checksum mismatch") {
		t.Fatalf("reason %q", r)
	}
	for _, ev := range j.find("action.outcome") {
		if o := ev.(*engine.ActionOutcome); o.OK {
			t.Errorf("an ok outcome for a corrupted copy: %+v", o)
		}
	}
}

// BenchmarkVolumeCopy64MiB compares the copy step's stream (download from
// one daemon piped into an upload to the other, hashed on the way; the
// read-back verification excluded) with virsh vol-download | virsh
// vol-upload on the same 64 MiB volume.
func BenchmarkVolumeCopy64MiB(b *testing.B) {
	l := newVolLab(b)
	src, dst := l.sites["primary"], l.sites["secondary"]
	v := engine.VolumeRef{Pool: "images", Name: "db-01.raw"}
	ctx := context.Background()
	info, err := src.VolumeInfo(ctx, v)
	if err != nil {
		b.Fatal(err)
	}
	fresh := func(b *testing.B) {
		b.Helper()
		_ = dst.DeleteVolume(ctx, v)
		if err := dst.CreateVolume(ctx, info); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("repli-stream", func(b *testing.B) {
		b.SetBytes(volSize)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			fresh(b)
			b.StartTimer()
			pr, pw := io.Pipe()
			h := sha256.New()
			go func() { pw.CloseWithError(src.ReadVolume(ctx, v, io.MultiWriter(h, pw))) }()
			if err := dst.WriteVolume(ctx, v, pr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("virsh-pipe", func(b *testing.B) {
		b.SetBytes(volSize)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			fresh(b)
			b.StartTimer()
			cmd := exec.Command("/bin/sh", "-c", fmt.Sprintf("virsh -q -c '%s' vol-download --pool images db-01.raw /dev/stdout | virsh -q -c '%s' vol-upload --pool images db-01.raw /dev/stdin", l.primary.URI, l.secondary.URI))
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
}

// TestVolumeCopyInterruptedThenResumed: the console stops mid-stream (its
// context is cancelled, which closes the stream's connection); the half
// written target is not reported done, and the resumed run copies the
// volume again, whole, over the same connections (they reconnect).
func TestVolumeCopyInterruptedThenResumed(t *testing.T) {
	t.Parallel()
	l := newVolLab(t)
	rb := l.runbook(t, "")
	sites := map[string]engine.Hypervisor{"primary": l.sites["primary"], "secondary": l.sites["secondary"]}
	j := &memTrail{}
	eng, err := engine.New(rb, sites, j, engine.Options{RunID: 1, Operator: "lab", AutoApprove: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := eng.Run(ctx); done <- err }()
	interrupted := false
	for ev := range eng.Events() {
		if lg, ok := ev.(*engine.Logged); ok && strings.Contains(lg.Message, "copied (") && !strings.Contains(lg.Message, "(100%)") && !interrupted {
			interrupted = true
			cancel()
		}
	}
	if err := <-done; err == nil || !interrupted {
		t.Fatalf("the run was not interrupted mid-copy (interrupted %v, err %v)", interrupted, err)
	}
	if n := len(j.find("volume.copied")); n != 0 {
		t.Fatalf("an interrupted copy recorded %d volume.copied", n)
	}
	for _, ev := range j.find("action.outcome") {
		if ev.(*engine.ActionOutcome).OK {
			t.Fatal("an interrupted copy has an ok outcome")
		}
	}
	want, _ := os.ReadFile(filepath.Join(l.poolDirs["primary"], "db-01.raw"))
	if got, _ := os.ReadFile(filepath.Join(l.poolDirs["secondary"], "db-01.raw")); bytes.Equal(got, want) {
		t.Fatal("the target is whole after the interruption: the test interrupted nothing")
	}

	p, err := engine.ProgressOf(j.events)
	if err != nil {
		t.Fatal(err)
	}
	eng, err = engine.New(rb, sites, j, engine.Options{RunID: 1, Operator: "lab", AutoApprove: true, Resume: p})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range eng.Events() {
		}
	}()
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer rcancel()
	outcome, err := eng.Run(rctx)
	if err != nil || outcome != engine.OutcomeSucceeded {
		t.Fatalf("resumed: outcome %s err %v: %s", outcome, err, j.failure())
	}
	if got, _ := os.ReadFile(filepath.Join(l.poolDirs["secondary"], "db-01.raw")); !bytes.Equal(got, want) {
		t.Fatal("after resume the target differs from the source")
	}
	if n := len(j.find("volume.copied")); n != 1 {
		t.Errorf("%d volume.copied after resume, want 1", n)
	}
}

// TestDrillMovesDataOnTheLab: a switchover drill on two QEMU daemons stops
// db-01 at the primary (forced: the OS-less guest ignores ACPI), copies its
// disk, defines it at the secondary from the primary's definition, and
// starts it there on the copy. The marker written at the primary is in the
// disk the secondary's db-01 runs on, and the RPO is measured: zero, the
// copy began after production stopped.
func TestDrillMovesDataOnTheLab(t *testing.T) {
	t.Parallel()
	l := newVolLabWith(t, true)
	l.primary.Virsh(t, "start", "db-01")
	src := fmt.Sprintf(`version: 1
name: lab-drill
rpo: 15m
sites:
  primary: {uri: %q}
  secondary: {uri: %q}
steps:
  - id: stop-primary
    rto: start
    shutdown: {site: primary, domains: [db-01], timeout: 2s, force: true}
  - id: final-sync
    copy: {from: primary, to: secondary, volumes: [{domain: db-01}]}
  - id: define-secondary
    define: {site: secondary, copy_from: primary, domains: [db-01]}
  - id: start-secondary
    start: {site: secondary, domains: [db-01]}
  - id: running
    rto: stop
    check: {site: secondary, domains: [db-01], state: running}
`, l.primary.URI, l.secondary.URI)
	rb, diags := runbooks.Parse("lab-drill.yaml", []byte(src))
	if rb == nil {
		t.Fatal(diags)
	}
	outcome, j := l.run(t, rb, nil)
	if outcome != engine.OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", outcome, j.failure())
	}
	if got := l.secondary.State(t, "db-01"); got != "running" {
		t.Fatalf("db-01 at the secondary is %s", got)
	}
	if got := l.primary.State(t, "db-01"); got != "shut off" {
		t.Fatalf("db-01 at the primary is %s", got)
	}
	// The guest at the secondary runs on the copied volume: its QEMU
	// process opened the file in the secondary's pool.
	copyPath := filepath.Join(l.poolDirs["secondary"], "db-01.raw")
	if !qemuUses(t, copyPath) {
		t.Fatalf("no QEMU process runs on %s", copyPath)
	}
	f, err := os.Open(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, len(l.marker))
	if _, err := f.ReadAt(got, l.markerAt); err != nil || !bytes.Equal(got, l.marker) {
		t.Fatalf("the marker is not in the disk the secondary runs on (%v)", err)
	}
	p, err := engine.ProgressOf(j.events)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.RPO(rb); !s.Measured || s.AchievedS != 0 || !s.Met {
		t.Errorf("RPO %+v", s)
	}
}

// qemuUses tells whether a running QEMU process has path on its command
// line (libvirt gives QEMU a volume's file by its path).
func qemuUses(t *testing.T, path string) bool {
	t.Helper()
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err == nil && bytes.Contains(b, []byte("qemu-system")) && bytes.Contains(b, []byte(path)) {
			return true
		}
	}
	return false
}
