package runbooks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/runbooks/examples"
)

func TestCopyStepParses(t *testing.T) {
	t.Parallel()
	st := parseStep(t, `  - id: sync
    copy:
      from: primary
      to: secondary
      volumes:
        - {pool: default, name: data.raw}
        - domain: db-01
      target: overwrite
      verify: none
      timeout: 30m
`)
	c := runbooks.CopyOf(st)
	if st.Kind != runbooks.KindCopy || c == nil {
		t.Fatalf("kind %s copy %v", st.Kind, c)
	}
	if c.From != "primary" || c.To != "secondary" || !c.Overwrite || c.Verify != "none" || c.Timeout.Minutes() != 30 {
		t.Errorf("copy parsed as %+v", c)
	}
	if len(c.Volumes) != 2 || c.Volumes[0].String() != "default/data.raw" || c.Volumes[1].Domain != "db-01" {
		t.Errorf("volumes %+v", c.Volumes)
	}
	// Overwriting is destructive: it asks a person by default.
	if st.Gate != runbooks.GateConfirm || !st.Destructive() {
		t.Errorf("gate %s destructive %v", st.Gate, st.Destructive())
	}
	if got := strings.Join(st.Sites(), ","); got != "primary,secondary" {
		t.Errorf("sites %s", got)
	}
	// In disaster mode the primary site is lost: a copy from it cannot run.
	rb := parseOK(t, langHead+"  - id: sync\n    copy: {from: primary, to: secondary, volumes: [{domain: db-01}]}\n")
	if ok, why := rb.Steps[0].RunsIn(rb, "disaster"); ok || !strings.Contains(why, "assumed lost") {
		t.Errorf("disaster mode: runs %v (%s)", ok, why)
	}
	if ok, _ := rb.Steps[0].RunsIn(rb, "planned"); !ok {
		t.Error("planned mode skips the copy")
	}
	// Defaults: create, sha256, not destructive.
	d := rb.Steps[0]
	if runbooks.CopyOf(d).Overwrite || runbooks.CopyOf(d).Verify != runbooks.VerifySHA256 || d.Gate != runbooks.GateNone || runbooks.CopyOf(d).Timeout != runbooks.DefaultCopyTimeout {
		t.Errorf("defaults %+v gate %s", runbooks.CopyOf(d), d.Gate)
	}
}

func TestCopyStepRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{"copy: {from: primary, to: primary, volumes: [{domain: a}]}", "copies from the site it copies to"},
		{"copy: {from: primary, to: elsewhere, volumes: [{domain: a}]}", `unknown site "elsewhere"`},
		{"copy: {from: primary, to: secondary, volumes: []}", "volumes must be a non-empty list"},
		{"copy: {from: primary, to: secondary, volumes: [{pool: p, name: n, domain: d}]}", "not both"},
		{"copy: {from: primary, to: secondary, volumes: [{pool: p}]}", `missing required key "name"`},
		{"copy: {from: primary, to: secondary, volumes: [{pool: p, name: a/b}]}", "not a path"},
		{"copy: {from: primary, to: secondary, volumes: [{domain: a}, {domain: a}]}", "names disks of a twice"},
		{"copy: {from: primary, to: secondary, volumes: [{domain: a}], target: replace}", "target must be create or overwrite"},
		{"copy: {from: primary, to: secondary, volumes: [{domain: a}], verify: md5}", "verify must be sha256 or none"},
		{"copy: {from: primary, volumes: [{domain: a}]}", `missing required key "to"`},
	}
	for _, tt := range tests {
		got := parseErrs(t, langHead+"  - id: c\n    "+tt.body+"\n", nil)
		if !strings.Contains(got, tt.want) {
			t.Errorf("%s:\n got %s\nwant %s", tt.body, got, tt.want)
		}
	}
}

// TestExecSite: an exec that names the primary site is skipped in disaster
// mode, like every step that touches it.
func TestExecSite(t *testing.T) {
	t.Parallel()
	rb := parseOK(t, langHead+`  - id: pass
    exec: {command: [echo, hi], site: primary}
  - id: promote
    exec: {command: [echo, hi], site: secondary}
  - id: local
    exec: {command: [echo, hi]}
`)
	for i, want := range []bool{false, true, true} {
		if ok, why := rb.Steps[i].RunsIn(rb, "disaster"); ok != want {
			t.Errorf("step %s in disaster mode: runs %v, want %v (%s)", rb.Steps[i].ID, ok, want, why)
		}
		if ok, _ := rb.Steps[i].RunsIn(rb, "test"); !ok {
			t.Errorf("step %s skipped in test mode", rb.Steps[i].ID)
		}
	}
	got := parseErrs(t, langHead+"  - id: x\n    exec: {command: [echo], site: nowhere}\n", nil)
	if !strings.Contains(got, `unknown site "nowhere"`) {
		t.Errorf("unknown site: %s", got)
	}
}

func TestAnnualDrillFinalPassSkippedInDisaster(t *testing.T) {
	t.Parallel()
	file, src, err := examples.Source("annual-pra-test")
	if err != nil {
		t.Fatal(err)
	}
	rb, diags := runbooks.Parse(file, src)
	if rb == nil {
		t.Fatal(diags)
	}
	for _, st := range rb.Steps {
		if st.ID != "final-sync" {
			continue
		}
		if ok, _ := st.RunsIn(rb, "disaster"); ok {
			t.Error("the final replication pass runs in disaster mode, from a lost primary")
		}
		if ok, _ := st.RunsIn(rb, "planned"); !ok {
			t.Error("the final replication pass is skipped in planned mode")
		}
		return
	}
	t.Fatal("no final-sync step")
}

func TestRecoveryPointKeys(t *testing.T) {
	t.Parallel()
	st := parseStep(t, "  - id: b\n    check: {file: /srv/backup.age, max_age: 26h, recovery_point: true}\n")
	if !st.Check.RecoveryPoint {
		t.Error("check recovery_point not read")
	}
	st = parseStep(t, "  - id: z\n    exec: {command: [zfs-last-snapshot], recovery_point: stdout}\n")
	if st.Exec.RecoveryPoint != "stdout" {
		t.Errorf("exec recovery_point %q", st.Exec.RecoveryPoint)
	}
	for body, want := range map[string]string{
		"check: {tcp: \"a:1\", recovery_point: true}":             "recovery_point goes with file",
		"exec: {command: [x], recovery_point: stderr}":            "recovery_point must be stdout",
		"check: {file: /b, max_age: 1h, recovery_point: \"yes\"}": "must be true or false",
	} {
		if got := parseErrs(t, langHead+"  - id: r\n    "+body+"\n", nil); !strings.Contains(got, want) {
			t.Errorf("%s: got %s, want %s", body, got, want)
		}
	}
}

// TestReplicationToolWarning: an exec running a replication tool that is
// not on PATH is a warning at validate time; the same tool on PATH is not.
func TestReplicationToolWarning(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	src := langHead + `  - id: send
    exec: {shell: true, command: "zfs send -i tank@a tank@b | ssh b zfs recv tank"}
  - id: demote
    exec: {command: [drbdadm, secondary, r0]}
`
	rb, diags := runbooks.Parse("lang.yaml", []byte(src))
	if rb == nil {
		t.Fatal(diags)
	}
	if len(diags) != 2 || !strings.Contains(diags[0].String(), "lang.yaml:14:11: warning: step send runs zfs, which is not on this machine's PATH") ||
		!strings.Contains(diags[1].String(), "runs drbdadm") {
		t.Errorf("diagnostics:\n%s", diags)
	}
	for _, tool := range []string{"zfs", "drbdadm"} {
		if err := os.WriteFile(filepath.Join(dir, tool), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, diags = runbooks.Parse("lang.yaml", []byte(src)); len(diags) != 0 {
		t.Errorf("tools on PATH, still: %s", diags)
	}
}
