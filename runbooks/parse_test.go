package runbooks_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/runbooks/examples"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestBundledExamplesAreValid(t *testing.T) {
	t.Parallel()
	names := examples.Names()
	if len(names) == 0 {
		t.Fatal("no bundled runbooks")
	}
	for _, name := range names {
		file, src, err := examples.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		rb, diags := runbooks.Parse(file, src)
		if rb == nil || len(diags) > 0 {
			t.Errorf("%s:\n%v", name, diags)
			continue
		}
		if rb.Name != name {
			t.Errorf("%s: runbook name %q differs from its file name", name, rb.Name)
		}
	}
}

func TestReferenceRunbook(t *testing.T) {
	t.Parallel()
	rb, diags, err := runbooks.Load("../testdata/runbooks/good/reference-drill.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if rb == nil {
		t.Fatal(diags)
	}
	if rb.RTO.Hours() != 4 || len(rb.Sites) != 2 || len(rb.Steps) != 6 {
		t.Fatalf("rto %s sites %d steps %d", rb.RTO, len(rb.Sites), len(rb.Steps))
	}
	stop := rb.Steps[2]
	if stop.Kind != runbooks.KindShutdown || stop.Gate != runbooks.GateTyped || stop.RTO != runbooks.RTOStart ||
		!stop.Shutdown.Force || stop.Shutdown.Timeout.Minutes() != 2 || strings.Join(stop.Shutdown.Target.Domains, ",") != "web-01,app-02,app-01,db-01" {
		t.Errorf("stop-primary parsed as %+v %+v", stop, stop.Shutdown)
	}
	start := rb.Steps[3]
	if len(start.Start.Groups) != 3 || len(start.Start.Groups[1]) != 2 || start.Gate != runbooks.GateConfirm {
		t.Errorf("start-secondary groups %v gate %s", start.Start.Groups, start.Gate)
	}
	announce := rb.Steps[0]
	if announce.Kind != runbooks.KindManual || len(announce.Manual.Checklist) != 2 {
		t.Errorf("announce %+v", announce.Manual)
	}
	if announce.Pos.Line != 16 || announce.Pos.Col != 5 {
		t.Errorf("announce at %s, want 16:5", announce.Pos)
	}
}

// TestBadRunbooks checks every file of the bad corpus against the exact
// messages in its golden file (refresh with go test -update).
func TestBadRunbooks(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../testdata/runbooks/bad/*.yaml")
	if len(files) < 10 {
		t.Fatalf("only %d bad runbooks", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rb, diags := runbooks.Parse("testdata/runbooks/bad/"+name, src)
			if rb != nil || !diags.HasErrors() {
				t.Fatalf("accepted a bad runbook; diagnostics: %v", diags)
			}
			got := diags.Error() + "\n"
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("no golden file (run go test ./runbooks -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
			for _, d := range diags {
				if d.Pos.Line < 1 || d.Pos.Col < 1 {
					t.Errorf("diagnostic without a position: %s", d)
				}
			}
		})
	}
}

func TestGoodRunbooks(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../testdata/runbooks/good/*.yaml")
	for _, path := range files {
		rb, diags, err := runbooks.Load(path)
		if err != nil || rb == nil {
			t.Errorf("%s: %v\n%v", path, err, diags)
		}
	}
}

func TestSuggestions(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: s
sites:
  secondary: {uri: sim://secondary}
steps:
  - id: a
    gate: confrim
    start: {site: secondry, domains: [x]}
`
	_, diags := runbooks.Parse("s.yaml", []byte(src))
	got := diags.Error()
	for _, want := range []string{
		`s.yaml:7:11: step a: unknown gate "confrim"; use none, confirm or typed — did you mean "confirm"?`,
		`s.yaml:8:19: unknown site "secondry" — did you mean "secondary"?`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestOversizeFileRefused(t *testing.T) {
	t.Parallel()
	big := "version: 1\n# " + strings.Repeat("x", runbooks.MaxFileSize) + "\n"
	_, diags := runbooks.Parse("big.yaml", []byte(big))
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "larger than") {
		t.Fatalf("%v", diags)
	}
}

func TestDeepNestingRefused(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 200) + strings.Repeat("]", 200)
	_, diags := runbooks.Parse("deep.yaml", []byte(deep))
	if !diags.HasErrors() {
		t.Fatal("a 200-level document was accepted")
	}
}

func TestTooManyStepsRefused(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("version: 1\nname: many\nsites:\n  p: {uri: sim://p}\nsteps:\n")
	for i := range runbooks.MaxSteps + 1 {
		fmt.Fprintf(&b, "  - {id: s%d, manual: x}\n", i)
	}
	if b.Len() > runbooks.MaxFileSize {
		t.Fatalf("the test runbook is %d bytes, over the size limit it must not hit", b.Len())
	}
	rb, diags := runbooks.Parse("many.yaml", []byte(b.String()))
	if rb != nil || !strings.Contains(diags.Error(), "more than 10000 steps") {
		t.Fatalf("%d steps accepted or refused for another reason: %v", runbooks.MaxSteps+1, diags)
	}
}

// TestSitesNamedOnly: a runbook may name its sites and leave their URIs to
// repli's config, in the list form or as entries without uri.
func TestSitesNamedOnly(t *testing.T) {
	t.Parallel()
	rb, diags, err := runbooks.Load("../testdata/runbooks/good/sites-from-config.yaml")
	if err != nil || diags.HasErrors() {
		t.Fatalf("%v %v", err, diags)
	}
	if got := rb.SiteNames(); !reflect.DeepEqual(got, []string{"primary", "secondary"}) {
		t.Errorf("sites %v", got)
	}
	for _, s := range rb.Sites {
		if s.URI != "" || len(s.URIs) != 0 {
			t.Errorf("site %s has URI %q %v; it must come from the config", s.Name, s.URI, s.URIs)
		}
	}
	if p := rb.Primary(); p == nil || p.Name != "primary" || rb.Site("secondary").Role != runbooks.RoleSecondary {
		t.Errorf("roles: primary %v", p)
	}
	if s := rb.Sites[1]; s.Pos.Line != 5 || s.Pos.Col != 18 {
		t.Errorf("secondary at %s, want 5:18", s.Pos)
	}

	rb, diags, err = runbooks.Load("../testdata/runbooks/good/sites-mixed.yaml")
	if err != nil || diags.HasErrors() {
		t.Fatalf("%v %v", err, diags)
	}
	want := map[string]string{"dc-east": "", "dc-west": "", "lab": "qemu:///system"}
	for _, s := range rb.Sites {
		if s.URI != want[s.Name] {
			t.Errorf("site %s uri %q, want %q", s.Name, s.URI, want[s.Name])
		}
	}
	if p := rb.Primary(); p == nil || p.Name != "dc-east" || rb.Site("dc-west").Role != runbooks.RoleSecondary {
		t.Errorf("roles: primary %v, dc-west %s", p, rb.Site("dc-west").Role)
	}
}
