package runbooks_test

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/runbooks/examples"
)

// hangAfter is how long one Parse may take before the fuzz target calls it
// a hang. Parsing a fuzzer's input takes well under a millisecond: this is
// a watchdog that turns an endless loop into a reported crasher, not a
// performance assertion, so it is generous enough for -race on a slow CI.
const hangAfter = 30 * time.Second

// parseWatched parses with the watchdog.
func parseWatched(t *testing.T, src []byte, overrides map[string]string) (*runbooks.Runbook, runbooks.Diagnostics) {
	t.Helper()
	type result struct {
		rb    *runbooks.Runbook
		diags runbooks.Diagnostics
	}
	done := make(chan result, 1)
	go func() {
		rb, diags := runbooks.ParseWith("fuzz.yaml", src, overrides)
		done <- result{rb, diags}
	}()
	select {
	case r := <-done:
		return r.rb, r.diags
	case <-time.After(hangAfter):
		t.Fatalf("Parse did not return within %s (a hang?) on:\n%q", hangAfter, src)
		return nil, nil
	}
}

// fuzzOverrides reads --var overrides from the fuzzer's second input: one
// NAME=VALUE per line.
func fuzzOverrides(s string) map[string]string {
	if s == "" {
		return nil
	}
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if name, value, ok := strings.Cut(line, "="); ok && name != "" {
			out[name] = value
		}
	}
	return out
}

// reparses is how many times an input is parsed again to catch an answer
// that depends on map order. Go randomises map iteration, so a
// nondeterministic answer shows only sometimes: the corpus run of go test
// (a few dozen inputs) parses each many times so that it fails every time;
// while fuzzing, once is enough and keeps the fuzzer fast.
func reparses() int {
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		return 1
	}
	return 24
}

// FuzzParse feeds the parser arbitrary files (and --var overrides) and
// checks what every caller relies on: no panic, no hang, every diagnostic
// at a real position, a runbook exactly when there is no error, a usable
// runbook when there is one, and the same answer every time.
func FuzzParse(f *testing.F) {
	for _, name := range examples.Names() {
		_, src, err := examples.Source(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src, "")
	}
	files, _ := filepath.Glob("../testdata/runbooks/good/*.yaml")
	bad, _ := filepath.Glob("../testdata/runbooks/bad/*.yaml")
	for _, path := range append(files, bad...) {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src, "")
	}
	_, src, _ := examples.Source("disaster-failover")
	f.Add(src, "production=db-09,app-09")
	f.Add(src, "produktion=x")
	_, src, _ = examples.Source("single-vm-recovery")
	f.Add(src, "vm=${vm}")

	f.Fuzz(func(t *testing.T, src []byte, vars string) {
		overrides := fuzzOverrides(vars)
		rb, diags := parseWatched(t, src, overrides)

		if (rb == nil) != diags.HasErrors() {
			t.Fatalf("runbook %v with errors %v:\n%s", rb != nil, diags.HasErrors(), diags)
		}
		lines := yamlLines(src)
		for i, d := range diags {
			if d.Pos.Line < 1 || d.Pos.Col < 1 {
				t.Errorf("diagnostic at line %d col %d: %s", d.Pos.Line, d.Pos.Col, d)
			}
			if d.Pos.Line > lines {
				t.Errorf("diagnostic at line %d of a %d-line file: %s", d.Pos.Line, lines, d)
			}
			if d.File != "fuzz.yaml" || strings.TrimSpace(d.Message) == "" {
				t.Errorf("diagnostic without a file or a message: %#v", d)
			}
			if i > 0 {
				p := diags[i-1].Pos
				if p.Line > d.Pos.Line || p.Line == d.Pos.Line && p.Col > d.Pos.Col {
					t.Errorf("diagnostics out of order: %s before %s", diags[i-1], d)
				}
			}
		}
		if rb != nil {
			usable(t, rb)
		}

		for range reparses() {
			rb2, diags2 := parseWatched(t, src, overrides)
			if diags.Error() != diags2.Error() {
				t.Fatalf("the same input gave two answers:\n%s\n----\n%s", diags, diags2)
			}
			if !reflect.DeepEqual(rb, rb2) {
				t.Fatalf("the same input gave two different runbooks")
			}
		}
	})
}

// yamlLines counts lines the way YAML (and yaml.v3's positions) does: \r\n,
// \r, \n, and the Unicode breaks NEL, LS and PS each end a line.
func yamlLines(src []byte) int {
	s := strings.ReplaceAll(string(src), "\r\n", "\n")
	n := 1
	for _, r := range s {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			n++
		}
	}
	return n
}

// usable checks a runbook the parser accepted is whole: the engine, the
// plan and the UI call these on every step without checking.
func usable(t *testing.T, rb *runbooks.Runbook) {
	t.Helper()
	if rb.Name == "" || len(rb.Sites) == 0 || len(rb.Steps) == 0 {
		t.Fatalf("accepted a runbook without a name, a site or a step: %+v", rb)
	}
	ids := map[string]bool{}
	for _, st := range rb.Steps {
		if st.ID == "" || ids[st.ID] {
			t.Fatalf("accepted a step with an empty or duplicate id %q", st.ID)
		}
		ids[st.ID] = true
		bodies := 0
		for _, set := range []bool{st.Manual != nil, st.Check != nil, st.Shutdown != nil, st.Start != nil, st.Power != nil,
			st.Define != nil, st.Snapshot != nil, st.Autostart != nil, st.Exec != nil, st.Wait != nil, st.Body != nil} {
			if set {
				bodies++
			}
		}
		if bodies != 1 {
			t.Fatalf("step %s (%s) has %d kind bodies", st.ID, st.Kind, bodies)
		}
		for _, tg := range st.Targets() {
			if rb.Site(tg.Site) == nil {
				t.Fatalf("step %s targets unknown site %q", st.ID, tg.Site)
			}
			if !tg.Dynamic() && len(tg.Domains) == 0 && st.Kind != runbooks.KindDefine {
				t.Fatalf("step %s targets no domain at %s", st.ID, tg.Site)
			}
		}
		for _, m := range runbooks.Modes {
			st.RunsIn(rb, m)
		}
		st.Destructive()
	}
	rb.Domains()
}
