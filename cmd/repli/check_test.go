package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repli-dr/repli/internal/readiness"
)

// TestCheckReal: repli check on a plan whose sites are ready (exit 0, also
// as JSON), on one naming a missing domain (exit 1, named), and with a
// site that does not answer (exit 1, said so).
func TestCheckReal(t *testing.T) {
	t.Parallel()
	p, s, dir := twoSites(t)

	code, out, errOut := repli(t, runOpts{}, append([]string{"check", "annual-pra-test"}, siteFlags(p, s)...)...)
	if code != 0 {
		t.Fatalf("check of a ready plan: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"✓ ready", "TEST", "secondary-ready", "stop-primary"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = repli(t, runOpts{}, append([]string{"check", "annual-pra-test", "--json"}, siteFlags(p, s)...)...)
	if code != 0 {
		t.Fatalf("check --json: exit %d\n%s\n%s", code, out, errOut)
	}
	var rep readiness.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("check --json printed no JSON report: %v\n%s", err, out)
	}
	if !rep.Ready || len(rep.Sites) != 2 || len(rep.Blockers) != 0 {
		t.Fatalf("check --json = %+v", rep)
	}
	for _, site := range rep.Sites {
		if !site.Reachable || site.Info.LibvirtVersion == "" || site.Info.Hypervisor != "TEST" || len(site.Domains) != 4 {
			t.Errorf("site report %+v", site)
		}
		for _, d := range site.Domains {
			want := "shutoff"
			if site.Name == "primary" {
				want = "running"
			}
			if !d.Present || string(d.State) != want || d.Expects != want || d.Verdict != "ok" {
				t.Errorf("%s/%s: %+v", site.Name, d.Name, d)
			}
		}
	}

	// A plan naming a domain the secondary does not have.
	missing := filepath.Join(dir, "missing.yaml")
	src := strings.ReplaceAll(readExample(t), "[db-01, app-01, app-02, web-01]", "[db-01, db-09, app-01, app-02, web-01]")
	if err := os.WriteFile(missing, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = repli(t, runOpts{}, append([]string{"check", missing}, siteFlags(p, s)...)...)
	if code != 1 {
		t.Fatalf("check of a plan naming a missing domain: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "✗ not ready") || !strings.Contains(out, "secondary/db-09 is missing") {
		t.Errorf("the blockers do not name secondary/db-09:\n%s", out)
	}

	// A site that does not answer.
	code, out, _ = repli(t, runOpts{}, "check", "annual-pra-test", "--json", "--site", "primary="+p.URI,
		"--site", "secondary=test+unix:///default?socket="+dir+"/nobody/sock")
	if code != 1 {
		t.Fatalf("check with an unreachable site: exit %d, want 1\n%s", code, out)
	}
	rep = readiness.Report{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Ready || len(rep.Blockers) != 1 || !strings.Contains(rep.Blockers[0], "site secondary is unreachable") || rep.Sites[1].Reachable {
		t.Errorf("unreachable secondary: %+v", rep)
	}
}

func readExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "runbooks", "examples", "annual-pra-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCheckSimulated: check works on sim:// sites, which connect populates
// in the states the runbook expects.
func TestCheckSimulated(t *testing.T) {
	t.Parallel()
	code, out, errOut := repli(t, runOpts{}, "check", "annual-pra-test")
	if code != 0 || !strings.Contains(out, "✓ ready: 2 site(s) reachable, 8 domain(s) checked") {
		t.Fatalf("check on simulated sites: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = repli(t, runOpts{}, "check", "annual-pra-test", "--site", "nowhere=sim://x")
	if code != 2 || !strings.Contains(errOut, "no site \"nowhere\"") {
		t.Errorf("check with a bad --site: exit %d, want 2\n%s", code, errOut)
	}
}
