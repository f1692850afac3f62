package main

// repli reverse end to end: the command's output and files, and a forward
// run followed by its generated way back on two real libvirt daemons.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repli-dr/repli/runbooks"
)

// TestReverseCommand: the way back goes to stdout, or to a new file that is
// never silently overwritten; the notes for the reviewer go to stderr.
func TestReverseCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := repli(t, runOpts{}, "reverse", "annual-pra-test")
	if code != 0 {
		t.Fatalf("repli reverse annual-pra-test: exit %d\n%s", code, errOut)
	}
	rb, diags := runbooks.Parse("back.yaml", []byte(out))
	if rb == nil {
		t.Fatalf("the way back on stdout does not validate: %v\n%s", diags, out)
	}
	if rb.ReverseOf == nil || rb.ReverseOf.Name != "annual-pra-test" {
		t.Errorf("reverse_of = %+v", rb.ReverseOf)
	}
	if !strings.Contains(errOut, "review: step final-sync is a command repli cannot invert") {
		t.Errorf("stderr does not say the sync became a manual step:\n%s", errOut)
	}

	file := filepath.Join(dir, "back.yaml")
	if code, _, errOut := repli(t, runOpts{}, "reverse", "annual-pra-test", "-o", file); code != 0 {
		t.Fatalf("reverse -o: exit %d\n%s", code, errOut)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != out {
		t.Errorf("-o wrote something else than stdout shows (%v)", err)
	}
	if err := os.WriteFile(file, []byte("# reviewed\n"+out), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = repli(t, runOpts{}, "reverse", "annual-pra-test", "-o", file)
	if code != exitUsage || !strings.Contains(errOut, "--force") {
		t.Errorf("reverse -o over an existing file: exit %d, want %d and a word about --force\n%s", code, exitUsage, errOut)
	}
	if b, _ := os.ReadFile(file); !strings.HasPrefix(string(b), "# reviewed\n") {
		t.Error("the reviewed file was overwritten")
	}
	if code, _, errOut := repli(t, runOpts{}, "validate", file); code != 0 {
		t.Errorf("repli validate of the way back: exit %d\n%s", code, errOut)
	}
}

// TestForwardThenBackOnRealLibvirt runs the annual drill, then its way back
// written by repli reverse, against two real daemons: every domain is where
// it was before, as virsh sees it.
func TestForwardThenBackOnRealLibvirt(t *testing.T) {
	t.Parallel()
	p, s, dir := twoSites(t)
	db := filepath.Join(dir, "audit.db")
	before := map[string]string{}
	for _, d := range drillDomains {
		before["primary/"+d], before["secondary/"+d] = p.State(t, d), s.State(t, d)
	}
	run := func(file string) string {
		t.Helper()
		args := append([]string{"run", file, "--auto-approve", "--plain", "--db", db, "--no-replica", "a test lab on one machine"}, siteFlags(p, s)...)
		code, out, errOut := repli(t, runOpts{}, args...)
		if code != 0 {
			t.Fatalf("repli %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	run("runbooks/examples/annual-pra-test.yaml")
	for _, d := range drillDomains {
		if got := s.State(t, d); got != "running" {
			t.Fatalf("after the way out, secondary %s is %q, want running", d, got)
		}
	}

	back := filepath.Join(dir, "annual-pra-test-return.yaml")
	if code, _, errOut := repli(t, runOpts{}, "reverse", "runbooks/examples/annual-pra-test.yaml", "-o", back); code != 0 {
		t.Fatalf("repli reverse: exit %d\n%s", code, errOut)
	}
	out := run(back)
	for _, id := range []string{"stop-secondary", "return-final-sync", "start-primary", "secondary-shut-off"} {
		if !strings.Contains(out, id) {
			t.Errorf("the way back's output never names step %s:\n%s", id, out)
		}
	}
	for _, d := range drillDomains {
		for site, dm := range map[string]interface {
			State(testing.TB, string) string
		}{"primary": p, "secondary": s} {
			if got, want := dm.State(t, d), before[site+"/"+d]; got != want {
				t.Errorf("after the way out and back, virsh says %s %s is %q, want %q as before", site, d, got, want)
			}
		}
	}
}
