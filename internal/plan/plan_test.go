package plan

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/repli-dr/repli/runbooks"
)

// TestBuildTakesTheKindsWording: each step's action and kind timeout are
// what its kind declares, and the text fits in 80 columns.
func TestBuildTakesTheKindsWording(t *testing.T) {
	t.Parallel()
	rb, diags, err := runbooks.Load("../../testdata/runbooks/good/every-kind.yaml")
	if err != nil || diags.HasErrors() {
		t.Fatalf("load: %v %v", err, diags)
	}
	p := Build(rb, "test", nil)
	if len(p.Steps) != len(rb.Steps) {
		t.Fatalf("%d steps planned of %d", len(p.Steps), len(rb.Steps))
	}
	for i, s := range p.Steps {
		st := rb.Steps[i]
		if s.Action != st.Describe() || s.Action == "" || s.KindTimeoutS != st.KindTimeout().Seconds() || s.Kind != string(st.Kind) {
			t.Errorf("step %s: action %q, kind timeout %v", s.ID, s.Action, s.KindTimeoutS)
		}
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(b.String(), "\n") {
		if utf8.RuneCountInString(l) > 80 {
			t.Errorf("line %d is %d columns: %q", i+1, utf8.RuneCountInString(l), l)
		}
	}
	for _, want := range []string{"Steps", "pull-plug · destroy · SKIPPED", "forced off, no graceful shutdown"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the plan lacks %q", want)
		}
	}
}

// TestPlanSaysWhatTheChecksumIsComparedWith: the bundled hybrid restore's
// backup-intact is a declared checksum check, and the plan says which file
// is compared with which checksum file, in 80 columns.
func TestPlanSaysWhatTheChecksumIsComparedWith(t *testing.T) {
	t.Parallel()
	rb, diags, err := runbooks.Load("../../runbooks/examples/hybrid-restore.yaml")
	if err != nil || diags.HasErrors() {
		t.Fatalf("load: %v %v", err, diags)
	}
	p := Build(rb, "test", nil)
	var intact *Step
	for i := range p.Steps {
		if p.Steps[i].ID == "backup-intact" {
			intact = &p.Steps[i]
		}
	}
	if intact == nil || intact.Kind != "check" || intact.Action != "check file /var/tmp/repli-hybrid-demo/acme.sql.age matches the SHA-256 in /var/tmp/repli-hybrid-demo/acme.sql.age.sha256" {
		t.Fatalf("backup-intact planned as %+v", intact)
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sha256    its line for acme.sql.age, in sha256sum format"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the plan lacks %q:\n%s", want, b.String())
		}
	}
	for i, l := range strings.Split(b.String(), "\n") {
		if utf8.RuneCountInString(l) > 80 {
			t.Errorf("line %d is %d columns: %q", i+1, utf8.RuneCountInString(l), l)
		}
	}
}

// TestPlanSaysThePerHostCap: a site's max_per_host is in the plan, on the
// site and on each step that acts on several domains of it at once (not on
// a step that takes them one at a time).
func TestPlanSaysThePerHostCap(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: capped
sites:
  primary: {uris: [qemu:///a, qemu:///b], max_per_host: 3}
  secondary: {uri: qemu:///c}
steps:
  - id: stop-all
    shutdown: {site: primary, domains: [a, b, c, d], max_parallel: 8}
  - id: stop-one-by-one
    shutdown: {site: primary, domains: [e]}
  - id: start-all
    start: {site: primary, groups: [[a, b, c, d]]}
  - id: start-there
    start: {site: secondary, groups: [[a, b]]}
`
	rb, diags := runbooks.Parse("capped.yaml", []byte(src))
	if rb == nil || diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	p := Build(rb, "test", nil)
	if p.Sites[0].MaxPerHost != 3 || p.Sites[1].MaxPerHost != 0 {
		t.Errorf("sites' max_per_host %d, %d; want 3, 0", p.Sites[0].MaxPerHost, p.Sites[1].MaxPerHost)
	}
	want := map[string][2]int{"stop-all": {8, 3}, "stop-one-by-one": {0, 0}, "start-all": {0, 3}, "start-there": {0, 0}}
	for _, s := range p.Steps {
		if got := [2]int{s.MaxParallel, s.MaxPerHost}; got != want[s.ID] {
			t.Errorf("step %s: max_parallel, max_per_host = %v, want %v", s.ID, got, want[s.ID])
		}
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if n := strings.Count(out, "per host  at most 3 at once on any one host of primary"); n != 2 {
		t.Errorf("the per-host line is on %d steps, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "at most 3 actions at once on any one host") {
		t.Errorf("the sites do not say the cap:\n%s", out)
	}
}
