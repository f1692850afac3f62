package main

// The annual drill's data there and back on the QEMU lab, through the real
// binary: repli run moves db-01 and its disk from the primary to the
// secondary, production changes the disk there, repli reverse writes the
// way back, and repli run --mode failback brings db-01 and the changed disk
// home. Two QEMU session daemons with directory pools, started by
// engine/libvirt/libvirtlab; skipped (loudly) without libvirt or QEMU and
// under -short, failed under CI=true, like the other libvirt tests.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
	"github.com/repli-dr/repli/runbooks"
)

// drillVolSize is db-01's disk: big enough for the copy to stream in many
// chunks, small enough for a test.
const drillVolSize = 64 << 20

// drillLab is two QEMU daemons with a pool called images each; db-01 runs
// at the primary on images/db-01.raw (random data and a marker), defined
// by volume so that its definition is valid at both sites; app-01 is
// defined, shut off, at both (it must be left as it is).
type drillLab struct {
	p, s      *libvirtlab.Daemon
	dir       string
	pools     map[string]string // site → pool directory
	markerAt  int64
	forwardMk []byte
}

func newDrillLab(t *testing.T) *drillLab {
	t.Helper()
	libvirtlab.Require(t, "qemu-system-x86_64")
	dir := libvirtlab.TempDir(t)
	l := &drillLab{dir: dir, pools: map[string]string{}, markerAt: 40<<20 + 12345}
	for _, site := range []string{"primary", "secondary"} {
		d := libvirtlab.StartQEMUDaemon(t, dir, site, "repli-"+site)
		d.Define(t, "shutoff", "app-01")
		l.pools[site] = d.DirPool(t, "images")
		if site == "primary" {
			l.p = d
		} else {
			l.s = d
		}
	}
	l.p.Virsh(t, "vol-create-as", "images", "db-01.raw", "64M", "--format", "raw")
	data := make([]byte, drillVolSize)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	l.forwardMk = []byte(fmt.Sprintf("repli-forward-%d", time.Now().UnixNano()))
	copy(data[l.markerAt:], l.forwardMk)
	l.writeAt(t, "primary", 0, data)
	disk := "<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='images' volume='db-01.raw'/><target dev='vda' bus='virtio'/></disk>"
	xmlFile := filepath.Join(l.p.Dir, "db-01.xml")
	domXML := strings.Replace(libvirtlab.QEMUDomainXML("db-01"), "<devices>", "<devices>\n    "+disk, 1)
	if err := os.WriteFile(xmlFile, []byte(domXML), 0o644); err != nil {
		t.Fatal(err)
	}
	l.p.Virsh(t, "define", xmlFile)
	l.p.Virsh(t, "start", "db-01")
	return l
}

// volPath is db-01's disk in a site's pool.
func (l *drillLab) volPath(site string) string { return filepath.Join(l.pools[site], "db-01.raw") }

// writeAt writes into db-01's disk at a site behind libvirt's back, as the
// guest running on it would.
func (l *drillLab) writeAt(t *testing.T, site string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(l.volPath(site), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// holds reports whether db-01's disk at a site has b at the marker's place.
func (l *drillLab) holds(t *testing.T, site string, b []byte) bool {
	t.Helper()
	f, err := os.Open(l.volPath(site))
	if err != nil {
		t.Fatalf("db-01's disk at %s: %v", site, err)
	}
	defer f.Close()
	got := make([]byte, len(b))
	_, err = f.ReadAt(got, l.markerAt)
	return err == nil && bytes.Equal(got, b)
}

func (l *drillLab) sum(t *testing.T, site string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(l.volPath(site))
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// states is every domain at both sites with its state, as virsh says it.
func (l *drillLab) states(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for site, d := range map[string]*libvirtlab.Daemon{"primary": l.p, "secondary": l.s} {
		for _, name := range strings.Fields(d.Virsh(t, "list", "--all", "--name")) {
			out[site+"/"+name] = d.State(t, name)
		}
	}
	return out
}

func (l *drillLab) run(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := repli(t, runOpts{dir: l.dir}, args...)
	if code != 0 {
		t.Fatalf("repli %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out + errOut
}

// TestDrillThereAndBackOnTheLab: the annual drill moves db-01 and its disk
// to the secondary (the forward marker is in the disk it runs on there);
// production then writes a new marker into that disk; the failback that
// repli reverse writes from the drill's runbook validates, runs in mode
// failback, copies the disk back over the primary's between the stop at
// the secondary and the start at the primary, and measures its RPO. At the
// end the primary's disk is the secondary's, new marker included; db-01
// runs at the primary on it and is shut off at the secondary; every domain
// is in the state it started in (db-01 stays defined at the secondary, shut
// off: the standby's definition, which nothing removes).
func TestDrillThereAndBackOnTheLab(t *testing.T) {
	t.Parallel()
	l := newDrillLab(t)
	before := l.states(t)
	db := filepath.Join(l.dir, "audit.db")
	forward := filepath.Join(l.dir, "lab-drill.yaml")
	src := fmt.Sprintf(`version: 1
name: lab-drill
rpo: 15m
sites:
  primary: {uri: %q, role: primary}
  secondary: {uri: %q, role: secondary}
steps:
  - id: stop-primary
    rto: start
    shutdown: {site: primary, domains: [db-01], timeout: 2s, force: true}
  - id: final-sync
    copy: {from: primary, to: secondary, volumes: [{domain: db-01}]}
  - id: define-secondary
    define: {site: secondary, copy_from: primary, domains: [db-01]}
  - id: start-secondary
    start: {site: secondary, domains: [db-01], timeout: 1m}
  - id: running
    rto: stop
    check: {site: secondary, domains: [db-01], state: running}
`, l.p.URI, l.s.URI)
	if err := os.WriteFile(forward, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--plain", "--auto-approve", "--db", db, "--no-replica", "a test lab on one machine"}

	l.run(t, append([]string{"run", forward}, common...)...)
	if got := l.s.State(t, "db-01"); got != "running" {
		t.Fatalf("after the drill, db-01 at the secondary is %q", got)
	}
	if got := l.p.State(t, "db-01"); got != "shut off" {
		t.Fatalf("after the drill, db-01 at the primary is %q", got)
	}
	if !l.holds(t, "secondary", l.forwardMk) {
		t.Fatal("after the drill, the forward marker is not in the secondary's disk")
	}

	// Production at the secondary changes the disk during the disaster.
	newMk := []byte(fmt.Sprintf("repli-back-%d!", time.Now().UnixNano()))
	l.writeAt(t, "secondary", l.markerAt, newMk)
	if l.holds(t, "primary", newMk) || l.sum(t, "primary") == l.sum(t, "secondary") {
		t.Fatal("the primary's disk has the new marker before the failback: the test proves nothing")
	}

	back := filepath.Join(l.dir, "lab-drill-return.yaml")
	l.run(t, "reverse", forward, "-o", back)
	l.run(t, "validate", back)
	wb, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	rb, diags := runbooks.Parse(back, wb)
	if rb == nil {
		t.Fatalf("the way back does not parse: %v", diags)
	}
	var order []string
	for _, st := range rb.Steps {
		order = append(order, string(st.Kind)+" "+strings.Join(st.Sites(), ">"))
	}
	if want := "shutdown secondary|copy secondary>primary|manual |start primary|check secondary"; strings.Join(order, "|") != want {
		t.Fatalf("the way back is %q, want %q:\n%s", strings.Join(order, "|"), want, wb)
	}

	out := l.run(t, append([]string{"run", back, "--mode", "failback"}, common...)...)

	if !l.holds(t, "primary", newMk) {
		t.Fatalf("after the failback, the primary's disk does not hold the marker written at the secondary\n%s", out)
	}
	if l.sum(t, "primary") != l.sum(t, "secondary") {
		t.Fatal("after the failback, the primary's disk differs from the secondary's")
	}
	if got := l.p.State(t, "db-01"); got != "running" {
		t.Errorf("after the failback, db-01 at the primary is %q, want running", got)
	}
	if got := l.s.State(t, "db-01"); got != "shut off" {
		t.Errorf("after the failback, db-01 at the secondary is %q, want shut off", got)
	}
	if !qemuRunsOn(l.volPath("primary")) {
		t.Errorf("no QEMU process runs on %s: db-01 at the primary is not on its copied-back disk", l.volPath("primary"))
	}
	after := l.states(t)
	for k, was := range before {
		if after[k] != was {
			t.Errorf("%s was %q before the drill, %q after the way back", k, was, after[k])
		}
	}
	var added []string
	for k, now := range after {
		if _, ok := before[k]; !ok {
			added = append(added, k+" "+now)
		}
	}
	sort.Strings(added)
	if strings.Join(added, ",") != "secondary/db-01 shut off" {
		t.Errorf("domains that were not there before: %v, want the standby's db-01, shut off", added)
	}

	// The failback's run: recorded as one, the copy from the secondary to
	// the primary verified, its recovery point measured.
	var copied []*engine.VolumeCopied
	for _, ev := range trailEvents(t, db, 2) {
		if vc, ok := ev.(*engine.VolumeCopied); ok {
			copied = append(copied, vc)
		}
	}
	if len(copied) != 1 || copied[0].From != "secondary" || copied[0].To != "primary" || copied[0].Bytes != drillVolSize ||
		copied[0].TargetSHA256 != copied[0].SourceSHA256 || copied[0].SourceSHA256 != fmt.Sprintf("%x", l.sum(t, "primary")) {
		t.Fatalf("the failback's volume copies: %+v", copied)
	}
	code, h, errOut := repli(t, runOpts{dir: l.dir}, "history", "--db", db, "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(h), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("history --json: exit %d, %v\n%s\n%s", code, err, h, errOut)
	}
	found := false
	for _, row := range rows {
		if row["id"] != 2.0 {
			continue
		}
		found = true
		if row["mode"] != runbooks.ModeFailback || row["reverse_of"] != "lab-drill" || row["outcome"] != "succeeded" {
			t.Errorf("the failback's history row: mode %v, reverse_of %v, outcome %v", row["mode"], row["reverse_of"], row["outcome"])
		}
		if got, ok := row["rpo_achieved_s"].(float64); !ok || got != 0 || row["rpo_met"] != true || row["rpo_target_s"] != 900.0 {
			t.Errorf("the failback's RPO: achieved %v, met %v, target %v; want measured, 0 (the copy began after production stopped at the secondary), met, 900", row["rpo_achieved_s"], row["rpo_met"], row["rpo_target_s"])
		}
		t.Logf("failback: %v s, RTO %v s, RPO %v s; 64 MiB copied back in %s (%.1f MiB/s)", row["duration_s"], row["rto_achieved_s"], row["rpo_achieved_s"],
			copied[0].Duration.Round(time.Millisecond), copied[0].BytesPerSecond/(1<<20))
	}
	if !found {
		t.Errorf("history --json has no run 2, the failback:\n%s", h)
	}
}

// qemuRunsOn tells whether a running QEMU process has path on its command
// line (libvirt hands QEMU a volume by its file's path).
func qemuRunsOn(path string) bool {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err == nil && bytes.Contains(b, []byte("qemu-system")) && bytes.Contains(b, []byte(path)) {
			return true
		}
	}
	return false
}

// TestBundledLabDrillThereAndBack is what the README tells a user to do on
// the QEMU lab: scripts/lab.sh up with LAB_DRIVER=qemu (db-01 has a disk at
// both sites), the bundled lab-drill, production changing the disk at the
// secondary, repli reverse, and the way back: the change is home, every
// guest runs at the primary and is shut off at the secondary, and history
// links the failback to the drill with its RPO measured.
func TestBundledLabDrillThereAndBack(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("real QEMU guests: not run under -short")
	}
	libvirtlab.Require(t, "qemu-system-x86_64")
	// The users exist before lab.sh runs: it then leaves them alone at
	// its end (other tests run daemons as them).
	libvirtlab.QEMUUser(t, "repli-primary")
	libvirtlab.QEMUUser(t, "repli-secondary")
	dir := libvirtlab.TempDir(t)
	lab := filepath.Join(dir, "lab")
	labSh := func(args ...string) (string, error) {
		cmd := exec.Command("bash", append([]string{filepath.Join("..", "..", "scripts", "lab.sh")}, args...)...)
		cmd.Env = append(os.Environ(), "LAB_DIR="+lab, "LAB_DRIVER=qemu")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := labSh("up"); err != nil {
		t.Fatalf("lab.sh up: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := labSh("down"); err != nil {
			t.Logf("lab.sh down: %v\n%s", err, out)
		}
	})
	uri := func(site string) string {
		return "qemu+unix:///session?socket=" + filepath.Join(lab, site, "rt", "libvirt", "libvirt-sock")
	}
	disk := func(site string) string { return filepath.Join(lab, site, "pool", "db-01.raw") }
	firstLine := func(site string) string {
		b, err := os.ReadFile(disk(site))
		if err != nil {
			t.Fatal(err)
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		return string(line)
	}
	db := filepath.Join(dir, "audit.db")
	common := []string{"--plain", "--auto-approve", "--db", db, "--no-replica", "a test lab on one machine",
		"--site", "primary=" + uri("primary"), "--site", "secondary=" + uri("secondary")}
	run := func(args ...string) {
		t.Helper()
		if r := runRepli(t, "", args...); r.code != 0 {
			t.Fatalf("repli %s: exit %d\n%s\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}

	written := firstLine("primary")
	if !strings.Contains(written, "written at the primary") {
		t.Fatalf("the lab's db-01 disk at the primary starts with %q", written)
	}
	run(append([]string{"run", "lab-drill"}, common...)...)
	if got := firstLine("secondary"); got != written {
		t.Fatalf("after the drill the secondary's disk starts with %q, want the primary's %q", got, written)
	}
	changed := fmt.Sprintf("repli lab: changed at the secondary %d", time.Now().UnixNano())
	f, err := os.OpenFile(disk("secondary"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(changed+"\n"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	back := filepath.Join(dir, "lab-drill-return.yaml")
	run("reverse", "lab-drill", "-o", back)
	run(append([]string{"run", back}, common...)...)
	if got := firstLine("primary"); got != changed {
		t.Errorf("after the way back the primary's disk starts with %q, want the secondary's change %q", got, changed)
	}
	out, err := labSh("status")
	if err != nil {
		t.Fatalf("lab.sh status: %v\n%s", err, out)
	}
	at := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "== ") {
			at = strings.Fields(l)[1]
			continue
		}
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		state := strings.Join(f[2:], " ")
		if want := map[string]string{"primary:": "running", "secondary:": "shut off"}[at]; state != want {
			t.Errorf("after the way back %s %s is %q, want %q", at, f[1], state, want)
		}
	}
	h := runRepli(t, "", "history", "--db", db, "--json")
	var rows []struct {
		Mode         string   `json:"mode"`
		Outcome      string   `json:"outcome"`
		ReverseOf    string   `json:"reverse_of"`
		RPOAchievedS *float64 `json:"rpo_achieved_s"`
	}
	if err := json.Unmarshal([]byte(h.stdout), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("history --json: %v\n%s", err, h.stdout)
	}
	if r := rows[0]; r.Mode != "failback" || r.ReverseOf != "lab-drill" || r.Outcome != "succeeded" || r.RPOAchievedS == nil {
		t.Errorf("the way back in history: %+v", r)
	}
}
