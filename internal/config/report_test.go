package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestReportShowsSourcesAndResolvedAliases(t *testing.T) {
	t.Parallel()
	c, err := Load(estate(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	conf := write(t, filepath.Join(t.TempDir(), "libvirt.conf"), `uri_aliases = ["kvm1=qemu+ssh://kvm1.example/system"]`)
	in := Inputs{Flags: map[string][]string{SitePrefix + "lab": {"kvm1"}}, FlagNames: map[string]string{SitePrefix + "lab": "--site lab=…"}}
	r, err := c.Describe(in, conf)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Files) != 2 || len(r.URIAliases) != 1 || r.URIAliases[0] != "kvm1" {
		t.Fatalf("files %v, aliases %v", r.Files, r.URIAliases)
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kvm1 → qemu+ssh://kvm1.example/system", "/srv/repli/user.db", "precedence:   flag > environment"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestSiteFlag(t *testing.T) {
	t.Parallel()
	if n, u, err := SiteFlag("primary=qemu+ssh://kvm1/system?x=1"); err != nil || n != "primary" || u != "qemu+ssh://kvm1/system?x=1" {
		t.Errorf("SiteFlag = %q %q %v", n, u, err)
	}
	for _, bad := range []string{"primary", "=qemu:///system", "primary="} {
		if _, _, err := SiteFlag(bad); err == nil || !strings.Contains(err.Error(), "NAME=URI") {
			t.Errorf("SiteFlag(%q) = %v", bad, err)
		}
	}
}
