package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/repli-dr/repli/runbooks"
)

func write(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// estate writes a user and a system config and returns options reading them.
func estate(t *testing.T, vars map[string]string) Options {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "xdg", "repli", "config.yaml"), `
sites:
  primary: {uri: "qemu+ssh://kvm1.example/system"}
  dr: {uris: ["qemu+ssh://kvm3/system", "qemu+ssh://kvm4/system"]}
db: /srv/repli/user.db
runbooks: [/srv/runbooks]
`)
	sys := write(t, filepath.Join(dir, "etc", "config.yaml"), `
sites:
  primary: {uri: "qemu+ssh://old-kvm1/system"}
  secondary: {uri: "qemu+ssh://kvm2.example/system"}
db: /var/lib/repli/audit.db
replica: s3://bucket/repli
signing_key: /etc/repli/id_ed25519
`)
	m := map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "xdg")}
	for k, v := range vars {
		m[k] = v
	}
	return Options{Getenv: env(m), SystemPath: sys}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	o := estate(t, nil)
	c, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 2 || c.Files[0].Kind() != FromUser || c.Files[1].Kind() != FromSystem {
		t.Fatalf("files %+v", c.Files)
	}
	user, sys := c.Files[0].Path(), c.Files[1].Path()
	rb := Inputs{
		Runbook:     map[string][]string{"sites.secondary": {"qemu+ssh://rb/system"}},
		RunbookFile: "drill.yaml",
		Defaults:    map[string][]string{KeyDB: {"/home/op/.local/state/repli/audit.db"}, KeyAllowedSigners: {"/default/signers"}},
	}
	tests := []struct {
		key      string
		in       Inputs
		env      map[string]string
		want     []string
		src, whr string
	}{
		{"db", rb, nil, []string{"/srv/repli/user.db"}, FromUser, user},
		{"db", rb, map[string]string{"REPLI_DB": "/env.db"}, []string{"/env.db"}, FromEnv, "$REPLI_DB"},
		{"db", Inputs{Flags: map[string][]string{"db": {"/flag.db"}}}, map[string]string{"REPLI_DB": "/env.db"}, []string{"/flag.db"}, FromFlag, "--db"},
		{"replica", rb, nil, []string{"s3://bucket/repli"}, FromSystem, sys},
		{"signing_key", rb, map[string]string{"REPLI_SIGNING_KEY": "/k"}, []string{"/k"}, FromEnv, "$REPLI_SIGNING_KEY"},
		{"allowed_signers", rb, nil, []string{"/default/signers"}, FromDefault, ""},
		{"runbooks", rb, nil, []string{"/srv/runbooks"}, FromUser, user},
		{"runbooks", rb, map[string]string{"REPLI_RUNBOOKS": "/a::/b"}, []string{"/a", "/b"}, FromEnv, "$REPLI_RUNBOOKS"},
		{"sites.primary", rb, nil, []string{"qemu+ssh://kvm1.example/system"}, FromUser, user},
		{"sites.dr", rb, nil, []string{"qemu+ssh://kvm3/system", "qemu+ssh://kvm4/system"}, FromUser, user},
		{"sites.secondary", rb, nil, []string{"qemu+ssh://rb/system"}, FromRunbook, "drill.yaml"},
		{"sites.secondary", Inputs{}, nil, []string{"qemu+ssh://kvm2.example/system"}, FromSystem, sys},
		{"sites.secondary", Inputs{Flags: map[string][]string{"sites.secondary": {"test:///default"}}, FlagNames: map[string]string{"sites.secondary": "--site secondary=…"}, Runbook: rb.Runbook},
			nil, []string{"test:///default"}, FromFlag, "--site secondary=…"},
		{"sites.nowhere", rb, nil, []string{}, Unset, ""},
	}
	for _, tt := range tests {
		o := estate(t, tt.env)
		c, err := Load(o)
		if err != nil {
			t.Fatal(err)
		}
		v := c.Resolve(tt.key, tt.in)
		// The paths differ per estate; compare the file's base and kind.
		if !reflect.DeepEqual(v.Values, tt.want) || v.Source != tt.src || filepath.Base(v.Where) != filepath.Base(tt.whr) {
			t.Errorf("%s (env %v): got %v from %s %s, want %v from %s %s", tt.key, tt.env, v.Values, v.Source, v.Where, tt.want, tt.src, tt.whr)
		}
	}

	all := c.All(rb)
	var keys []string
	for _, v := range all {
		keys = append(keys, v.Key)
	}
	want := []string{"db", "replica", "signing_key", "allowed_signers", "runbooks", "sites.dr", "sites.primary", "sites.secondary"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("All keys %v, want %v", keys, want)
	}
}

func TestChosenFileStandsAlone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	chosen := write(t, filepath.Join(dir, "team.yaml"), "sites:\n  primary: {uri: \"test:///default\"}\n")
	for _, o := range []Options{
		{Path: chosen, Getenv: estate(t, nil).Getenv, SystemPath: estate(t, nil).SystemPath},
		{Getenv: estate(t, map[string]string{"REPLI_CONFIG": chosen}).Getenv, SystemPath: estate(t, nil).SystemPath},
	} {
		c, err := Load(o)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Files) != 1 || c.Files[0].Path() != chosen || c.Files[0].Kind() != FromChosen {
			t.Fatalf("files %+v", c.Files)
		}
		if v := c.Resolve("db", Inputs{}); v.Set() {
			t.Errorf("db %v from %s: the user's and system's files must not be read", v.Values, v.Where)
		}
		if v := c.Resolve("sites.primary", Inputs{}); v.String() != "test:///default" || v.Source != FromChosen {
			t.Errorf("primary %+v", v)
		}
	}
	if _, err := Load(Options{Path: filepath.Join(dir, "missing.yaml")}); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("a missing chosen file: %v", err)
	}
	// No file at all is an empty configuration, not an error.
	c, err := Load(Options{Getenv: env(map[string]string{"XDG_CONFIG_HOME": dir}), SystemPath: filepath.Join(dir, "none.yaml")})
	if err != nil || len(c.Files) != 0 {
		t.Errorf("no files: %v %v", c, err)
	}
}

func TestBadConfigFiles(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, text, want string }{
		{"unknown key", "sites: {}\nsigning-key: /k\n", "line 2: field signing-key not found"},
		{"site without uri", "sites:\n  primary: {}\n", "site primary needs uri"},
		{"uri and uris", "sites:\n  primary: {uri: a, uris: [b]}\n", "site primary has both uri and uris"},
		{"bad site name", "sites:\n  Primary: {uri: a}\n", `site name "Primary" must be lowercase`},
		{"not yaml", "sites: [\n", "did not find expected node content"},
	}
	for _, tt := range tests {
		p := write(t, filepath.Join(t.TempDir(), "c.yaml"), tt.text)
		_, err := Load(Options{Path: p})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming the file and %q", tt.name, err, tt.want)
		}
	}
}

const libvirtConf = `# libvirt client configuration
uri_default = "qemu:///system"
uri_aliases = [
  "hail=qemu+ssh://root@hail.cloud.example.com/system",
  'lab=test:///default',
  "hail=qemu:///second-ignored",
]
remote_mode = "legacy"   # a comment after a value
admin_uri_default = 5
`

func TestURIAliases(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := LoadAliases(write(t, filepath.Join(dir, "libvirt.conf"), libvirtConf))
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"hail":           "qemu+ssh://root@hail.cloud.example.com/system",
		"lab":            "test:///default",
		"sleet":          "sleet",
		"qemu:///system": "qemu:///system",
		"LAB":            "LAB",
	} {
		if got, _ := a.Resolve(in); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}
	if !reflect.DeepEqual(a.Names(), []string{"hail", "lab", "hail"}) {
		t.Errorf("names %v", a.Names())
	}
	for name, text := range map[string]string{
		"no =":                `uri_aliases = ["hail"]`,
		"bad alias":           `uri_aliases = ["ha il=qemu:///system"]`,
		"comment in the list": "uri_aliases = [\n  \"a=test:///default\", # no\n]\n",
		"unterminated":        `uri_aliases = ["a=b`,
		"no value":            "uri_aliases =\n",
	} {
		if _, err := LoadAliases(write(t, filepath.Join(dir, "bad.conf"), text)); err == nil {
			t.Errorf("%s: accepted %q", name, text)
		}
	}
	if a, err := LoadAliases(filepath.Join(dir, "missing.conf")); err != nil || len(a.Names()) != 0 {
		t.Errorf("missing file: %v %v", a, err)
	}
	if p := LibvirtConfPath(env(map[string]string{"XDG_CONFIG_HOME": "/x"}), 1000); p != "/x/libvirt/libvirt.conf" {
		t.Errorf("user path %s", p)
	}
	if p := LibvirtConfPath(env(map[string]string{"HOME": "/home/op"}), 1000); p != "/home/op/.config/libvirt/libvirt.conf" {
		t.Errorf("user path %s", p)
	}
	if p := LibvirtConfPath(nil, 0); p != "/etc/libvirt/libvirt.conf" {
		t.Errorf("root path %s", p)
	}
}

// TestURIAliasesAsVirsh reads the same libvirt.conf as the real virsh, as an
// unprivileged user (root's virsh reads /etc/libvirt/libvirt.conf, which a
// test must not touch), and checks that both resolve the aliases alike and
// refuse the same malformed files.
func TestURIAliasesAsVirsh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs virsh")
	}
	virsh, err := exec.LookPath("virsh")
	if err != nil {
		t.Skip("virsh is not installed (make test installs it)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run virsh as another user")
	}
	dir, err := os.MkdirTemp("", "repli-virsh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	conf := filepath.Join(dir, "libvirt", "libvirt.conf")
	virshURI := func(uri string) (string, error) {
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", virsh, "-c", uri, "uri")
		cmd.Env = []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_RUNTIME_DIR=" + dir, "PATH=/usr/bin:/bin"}
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	files := map[string]bool{ // text → valid to libvirt
		"uri_aliases = [\n  \"lab=test:///default\",\n  'other=test:///default',\n]\n# end\n": true,
		"uri_aliases = [\n  \"lab=test:///default\", # no\n]\n":                               false,
		"uri_aliases = [\"ha il=test:///default\"]\n":                                         false,
	}
	for text, valid := range files {
		write(t, conf, text)
		os.Chmod(filepath.Dir(conf), 0o755)
		os.Chmod(conf, 0o644)
		a, ourErr := LoadAliases(conf)
		got, virshErr := virshURI("lab")
		if (ourErr == nil) != valid || (virshErr == nil) != valid {
			t.Errorf("%q: repli says %v, virsh says %v (%s); want valid=%v", text, ourErr, virshErr, got, valid)
			continue
		}
		if valid {
			ours, _ := a.Resolve("lab")
			if got != ours {
				t.Errorf("virsh -c lab connects to %q, repli resolves lab to %q", got, ours)
			}
		}
	}
}

// TestSiteOverrides: --site NAME=URI flags, checked against the runbook's
// sites when there is one.
func TestSiteOverrides(t *testing.T) {
	rb, diags := runbooks.Parse("r.yaml", []byte("version: 1\nname: r\nsites:\n  primary: {uri: \"test:///default\"}\nsteps:\n  - id: s\n    check: {site: primary, domains: [a], state: running}\n"))
	if rb == nil || diags.HasErrors() {
		t.Fatalf("runbook: %v", diags)
	}
	got, err := SiteOverrides([]string{"primary=qemu:///session"}, rb)
	if err != nil || got["primary"] != "qemu:///session" || len(got) != 1 {
		t.Fatalf("SiteOverrides: %v %v", got, err)
	}
	if _, err := SiteOverrides([]string{"dr=qemu:///session"}, rb); err == nil || !strings.Contains(err.Error(), `has no site "dr"`) {
		t.Errorf("an unknown site: %v", err)
	}
	if _, err := SiteOverrides([]string{"dr=qemu:///session"}, nil); err != nil {
		t.Errorf("without a runbook any site name goes: %v", err)
	}
	if _, err := SiteOverrides([]string{"primary"}, nil); err == nil || !strings.Contains(err.Error(), "NAME=URI") {
		t.Errorf("no URI: %v", err)
	}
}
