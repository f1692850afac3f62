package runbooks

import (
	"strings"
	"testing"
)

func TestRunMode(t *testing.T) {
	t.Parallel()
	const body = "version: 1\nname: %s\nsites:\n  primary: {uri: sim://primary}\n  secondary: {uri: sim://secondary}\nsteps:\n  - id: a\n    manual: Go.\n"
	forward, diags := Parse("f.yaml", []byte(strings.Replace(body, "%s", "drill", 1)))
	if forward == nil {
		t.Fatal(diags)
	}
	back, diags := Parse("b.yaml", []byte(strings.Replace(body, "%s", "drill-return", 1)+
		"reverse_of:\n  name: drill\n  sha256: "+forward.SHA256()+"\n"))
	if back == nil {
		t.Fatal(diags)
	}
	if back.ReverseOf == nil || back.ReverseOf.Name != "drill" || back.ReverseOf.SHA256 != forward.SHA256() {
		t.Fatalf("reverse_of = %+v", back.ReverseOf)
	}
	cases := []struct {
		rb        *Runbook
		requested string
		given     bool
		want      string
		err       string
	}{
		{forward, "test", false, "test", ""},
		{forward, "disaster", true, "disaster", ""},
		{forward, "failback", true, "", "repli reverse f.yaml -o drill-return.yaml"},
		{forward, "fallback", true, "", `did you mean "failback"`},
		{back, "test", false, "failback", ""},
		{back, "failback", true, "failback", ""},
		{back, "disaster", true, "disaster", ""},
		{back, "test", true, "", "is the way back of drill"},
		{back, "planned", true, "", "run it without --mode"},
	}
	for _, c := range cases {
		got, err := c.rb.RunMode(c.requested, c.given)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s --mode %s (given %v): error %v, want one saying %q", c.rb.Name, c.requested, c.given, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%s --mode %s (given %v) = %q, %v; want %q", c.rb.Name, c.requested, c.given, got, err, c.want)
		}
	}
}

func TestReverseOfIsChecked(t *testing.T) {
	t.Parallel()
	const head = "version: 1\nname: x\nsites:\n  primary: {uri: sim://p}\nsteps:\n  - id: a\n    manual: Go.\n"
	for src, want := range map[string]string{
		"reverse_of: {name: drill}\n":                                              `missing required key "sha256"`,
		"reverse_of: {name: drill, sha256: abc}\n":                                 "64 lowercase hex digits",
		"reverse_of: {name: Drill, sha256: " + strings.Repeat("a", 64) + "}\n":     "must be a runbook name",
		"reverse_of: {name: d, sha256: " + strings.Repeat("a", 64) + ", by: me}\n": `unknown key "by"`,
		"reverse_of: drill\n":                                                      "must be a mapping",
	} {
		rb, diags := Parse("x.yaml", []byte(head+src))
		if rb != nil || !strings.Contains(diags.Error(), want) {
			t.Errorf("%s: got %v, want an error saying %q", strings.TrimSpace(src), diags, want)
		}
	}
}
