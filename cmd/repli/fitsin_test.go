package main

// repli as a tool among others: shell completion through cobra's
// __complete on the real binary, the version, the config file and its
// precedence, the --output convention.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// complete asks the real binary what the shell would offer after args, and
// returns the candidates (value → description) and the directive line.
func complete(t *testing.T, env []string, args ...string) (map[string]string, []string, string) {
	t.Helper()
	r := runRepliEnv(t, env, "", append([]string{"__complete"}, args...)...)
	if r.code != 0 {
		t.Fatalf("__complete %v: exit %d\n%s", args, r.code, r.stderr)
	}
	got := map[string]string{}
	var order []string
	directive := ""
	for _, line := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
		if strings.HasPrefix(line, ":") {
			directive = line
			continue
		}
		v, d, _ := strings.Cut(line, "\t")
		got[v] = d
		order = append(order, v)
	}
	return got, order, directive
}

func TestCompletionOfCommandsRunbooksModesAndSites(t *testing.T) {
	t.Parallel()
	got, _, _ := complete(t, nil, "")
	for _, c := range []string{"run", "plan", "validate", "history", "config", "version", "completion"} {
		if _, ok := got[c]; !ok {
			t.Errorf("repli <TAB> does not offer %s: %v", c, got)
		}
	}
	if _, ok := got["__gen-man"]; ok {
		t.Error("repli <TAB> offers the hidden __gen-man")
	}

	// Bundled names with their titles, local runbook files, and the
	// team's runbook directory ($REPLI_RUNBOOKS).
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "team-drill.yaml"), []byte("version: 1\nname: team-drill\ntitle: The team's drill\nsites: [primary]\nsteps:\n  - {id: a, manual: hi}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"REPLI_RUNBOOKS=" + dir}
	got, _, directive := complete(t, env, "plan", "")
	if d := got["annual-pra-test"]; !strings.HasPrefix(d, "bundled: Annual PRA test") {
		t.Errorf("plan <TAB>: annual-pra-test described %q; all: %v", d, got)
	}
	if d := got["team-drill"]; !strings.Contains(d, "The team's drill") {
		t.Errorf("plan <TAB>: team-drill (from $REPLI_RUNBOOKS) described %q; all: %v", d, got)
	}
	if _, ok := got["runbooks/"]; !ok {
		t.Errorf("plan <TAB> does not offer the local directory runbooks/: %v", got)
	}
	if directive != ":6" { // no file completion, no space (after a directory)
		t.Errorf("plan <TAB> directive %s", directive)
	}
	got, _, _ = complete(t, env, "validate", "testdata/runbooks/good/mi")
	if len(got) != 1 || got["testdata/runbooks/good/minimal.yaml"] != "" {
		t.Errorf("validate testdata/runbooks/good/mi<TAB>: %v", got)
	}
	got, _, _ = complete(t, env, "run", "fail")
	if len(got) != 1 || !strings.Contains(got["failback"], "Failback") {
		t.Errorf("run fail<TAB>: %v", got)
	}
	// The runbook named by the team's directory plans, too.
	if r := runRepliEnv(t, env, "", "validate", "team-drill"); r.code != 0 || !strings.Contains(r.stdout, "team-drill.yaml: ok") {
		t.Errorf("validate team-drill: exit %d %s %s", r.code, r.stdout, r.stderr)
	}

	got, _, _ = complete(t, nil, "run", "annual-pra-test", "--mode", "")
	for _, m := range []string{"test", "planned", "disaster", "failback"} {
		if _, ok := got[m]; !ok {
			t.Errorf("--mode <TAB> lacks %s: %v", m, got)
		}
	}
	got, _, directive = complete(t, nil, "check", "annual-pra-test", "--site", "")
	if got["primary="] != "sim://primary" || got["secondary="] != "sim://secondary" || len(got) != 2 || directive != ":6" {
		t.Errorf("check annual-pra-test --site <TAB>: %v %s", got, directive)
	}
	// Without a runbook, the config's sites.
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("sites:\n  dc-east: {uri: \"qemu+ssh://kvm1/system\"}\n  dc-west: {uris: [\"qemu+ssh://kvm2/system\", \"qemu+ssh://kvm3/system\"]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, _, _ = complete(t, nil, "--config", cfg, "config", "--site", "dc-")
	if got["dc-east="] != "qemu+ssh://kvm1/system" || got["dc-west="] != "qemu+ssh://kvm2/system, qemu+ssh://kvm3/system" {
		t.Errorf("--site dc-<TAB> from the config: %v", got)
	}
	got, _, _ = complete(t, nil, "history", "--output", "")
	if len(got) != 2 || got["json"] != "" || got["text"] != "" {
		t.Errorf("--output <TAB>: %v", got)
	}
}

func TestCompletionOfRunIDsAndSteps(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	// No audit trail yet: nothing to offer, and nothing is created.
	if got, _, _ := complete(t, nil, "show", "--db", db, ""); len(got) != 0 {
		t.Errorf("show <TAB> with no trail: %v", got)
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("completion created the audit trail")
	}
	// Run 1 waits for a second approval; run 2 ends.
	driver := startRepli(t, []string{"SUDO_USER=alice"}, "run", "testdata/runbooks/good/four-eyes.yaml", "--plain", "--db", db, "--speed", "20")
	driver.answer("primary\n")
	waitEvents(t, db, 4, driver.done) // run 1's gate opened, alice's approval recorded
	defer driver.kill()
	if r := runRepli(t, "", "run", "annual-pra-test", "--auto-approve", "--plain", "--db", db, "--speed", "50"); r.code != 0 {
		t.Fatalf("run: exit %d %s", r.code, r.stderr)
	}

	today := time.Now().Format("2006-01-02")
	got, order, _ := complete(t, nil, "show", "--db", db, "")
	if len(order) != 2 || order[0] != "2" || order[1] != "1" {
		t.Fatalf("show <TAB>: %v, want runs 2 then 1", order)
	}
	if d := got["2"]; !strings.HasPrefix(d, "annual-pra-test · test · "+today) || !strings.HasSuffix(d, "succeeded") {
		t.Errorf("run 2 described %q", d)
	}
	if d := got["1"]; !strings.HasPrefix(d, "four-eyes · test · "+today) || !strings.HasSuffix(d, "not ended") {
		t.Errorf("run 1 described %q", d)
	}
	// resume and approve offer only the runs that have not ended.
	for _, cmd := range []string{"resume", "approve"} {
		if got, _, _ := complete(t, nil, cmd, "--db", db, ""); len(got) != 1 || got["1"] == "" {
			t.Errorf("%s <TAB>: %v, want run 1 only", cmd, got)
		}
	}
	got, _, _ = complete(t, nil, "approve", "--db", db, "1", "")
	if len(got) != 1 || !strings.HasPrefix(got["stop-primary"], "waiting for approval") {
		t.Errorf("approve 1 <TAB>: %v, want the step waiting, stop-primary", got)
	}
	got, _, _ = complete(t, []string{"REPLI_DB=" + db}, "resume", "1", "--site", "")
	if got["primary="] != "sim://primary" || got["secondary="] != "sim://secondary" || len(got) != 2 {
		t.Errorf("resume 1 --site <TAB>: %v", got)
	}
}

// moduleVersion reads a required module's version from go.mod.
func moduleVersion(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(path) + `\s+(\S+)`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("go.mod does not require %s", path)
	}
	return m[1]
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := runRepli(t, "", "version", "--output", "json")
	if r.code != 0 {
		t.Fatalf("version: exit %d %s", r.code, r.stderr)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("version --output json: %v\n%s", err, r.stdout)
	}
	if v["go"] != runtime.Version() {
		t.Errorf("go %q, want %q", v["go"], runtime.Version())
	}
	if want := moduleVersion(t, "github.com/digitalocean/go-libvirt"); v["go_libvirt"] != want {
		t.Errorf("go_libvirt %q, want %q (go.mod)", v["go_libvirt"], want)
	}
	if os.Getenv("REPLI_BIN") != "" {
		// Built by make: the version is git describe's, the commit the tree's.
		head, err := exec.Command("git", "rev-parse", "HEAD").Output()
		if err != nil {
			t.Fatal(err)
		}
		if v["commit"] != strings.TrimSpace(string(head)) {
			t.Errorf("commit %q, want HEAD %s", v["commit"], head)
		}
		desc, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
		if err != nil {
			t.Fatal(err)
		}
		if v["version"] != strings.TrimSpace(string(desc)) {
			t.Errorf("version %q, want git describe's %s", v["version"], desc)
		}
	} else if v["version"] != "dev" || v["commit"] != "unknown" {
		t.Errorf("a go build without ldflags says %q %q, want dev unknown", v["version"], v["commit"])
	}
	text := runRepli(t, "", "--version")
	for _, want := range []string{"repli " + v["version"], "commit " + v["commit"], v["go"], "go-libvirt " + v["go_libvirt"]} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("--version %q lacks %q", text.stdout, want)
		}
	}
	if j := runRepli(t, "", "version", "--json"); j.stdout != r.stdout {
		t.Errorf("version --json differs from --output json:\n%s\n%s", j.stdout, r.stdout)
	}
}

func TestOutputConvention(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "audit.db")
	if r := runRepli(t, "", "run", "annual-pra-test", "--auto-approve", "--plain", "--db", db, "--speed", "50"); r.code != 0 {
		t.Fatalf("run: exit %d %s", r.code, r.stderr)
	}
	for _, cmd := range [][]string{{"history"}, {"show", "1"}, {"verify"}, {"config"}, {"version"}} {
		args := append(append([]string{}, cmd...), "--db", db)
		if cmd[0] == "version" {
			args = cmd
		}
		j := runRepli(t, "", append(args, "--output", "json")...)
		alias := runRepli(t, "", append(args, "--json")...)
		text := runRepli(t, "", append(args, "--output", "text")...)
		plain := runRepli(t, "", args...)
		if j.code != 0 || !json.Valid([]byte(j.stdout)) {
			t.Errorf("%v --output json: exit %d, not JSON:\n%s%s", cmd, j.code, j.stdout, j.stderr)
		}
		if alias.stdout != j.stdout {
			t.Errorf("%v: --json and --output json differ", cmd)
		}
		if text.code != 0 || text.stdout != plain.stdout || json.Valid([]byte(text.stdout)) {
			t.Errorf("%v --output text: exit %d, differs from the default or is JSON:\n%s", cmd, text.code, text.stdout)
		}
		if bad := runRepli(t, "", append(args, "--output", "yaml")...); bad.code != 2 || !strings.Contains(bad.stderr, "use text or json") {
			t.Errorf("%v --output yaml: exit %d %s", cmd, bad.code, bad.stderr)
		}
	}
	// report keeps -o FILE for the file it writes.
	out := filepath.Join(t.TempDir(), "report.md")
	if r := runRepli(t, "", "report", "1", "--db", db, "-o", out); r.code != 0 {
		t.Fatalf("report -o: exit %d %s", r.code, r.stderr)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), "# Disaster recovery exercise report") {
		t.Errorf("report -o FILE wrote %q (%v)", b, err)
	}
}

func TestConfigGivesTheSites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	db := filepath.Join(dir, "from-config.db")
	if err := os.WriteFile(cfg, []byte("sites:\n  primary: {uri: \"sim://primary\"}\n  secondary: {uri: \"sim://secondary\"}\ndb: "+db+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const rb = "testdata/runbooks/good/sites-from-config.yaml" // sites: [primary, secondary]
	env := []string{"REPLI_CONFIG=" + cfg}
	r := runRepliEnv(t, env, "", "run", rb, "--auto-approve", "--plain", "--speed", "50")
	if r.code != 0 || !strings.Contains(r.stdout, "start secondary/app-01") {
		t.Fatalf("run with the sites from the config: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The audit trail came from the config too.
	if h := runRepliEnv(t, env, "", "history", "--json"); h.code != 0 || !strings.Contains(h.stdout, `"runbook": "sites-from-config"`) {
		t.Errorf("history from the config's db: exit %d %s %s", h.code, h.stdout, h.stderr)
	}
	// repli config shows each value and where it comes from.
	c := runRepliEnv(t, env, "", "config", "testdata/runbooks/good/sites-mixed.yaml", "--site", "lab=test:///default", "--output", "json")
	var doc struct {
		Precedence []string `json:"precedence"`
		Files      []struct{ Path, Kind string }
		Values     []struct {
			Key    string   `json:"key"`
			Values []string `json:"values"`
			Source string   `json:"source"`
			Where  string   `json:"where"`
		}
	}
	if err := json.Unmarshal([]byte(c.stdout), &doc); err != nil {
		t.Fatalf("config --output json: %v\n%s%s", err, c.stdout, c.stderr)
	}
	if strings.Join(doc.Precedence, " > ") != "flag > environment > runbook > user config > system config > default" {
		t.Errorf("precedence %v", doc.Precedence)
	}
	if len(doc.Files) != 1 || doc.Files[0].Path != cfg || doc.Files[0].Kind != "config file" {
		t.Errorf("files %+v", doc.Files)
	}
	want := map[string]string{
		"db":            "config file " + cfg + " " + db,
		"sites.primary": "config file " + cfg + " sim://primary",
		"sites.lab":     "flag --site lab=… test:///default",
		"sites.dc-east": "unset  ",
	}
	for _, v := range doc.Values {
		if w, ok := want[v.Key]; ok {
			if got := v.Source + " " + v.Where + " " + strings.Join(v.Values, ","); got != w {
				t.Errorf("%s: %q, want %q", v.Key, got, w)
			}
			delete(want, v.Key)
		}
	}
	if len(want) != 0 {
		t.Errorf("repli config does not show %v", want)
	}
	// --db beats the environment and the config.
	c = runRepliEnv(t, append(env, "REPLI_DB=/env.db"), "", "config", "--db", "/flag.db")
	if !regexp.MustCompile(`(?m)^db\s+/flag\.db\s+flag --db$`).MatchString(c.stdout) {
		t.Errorf("repli config --db:\n%s", c.stdout)
	}
	c = runRepliEnv(t, append(env, "REPLI_DB=/env.db"), "", "config")
	if !regexp.MustCompile(`(?m)^db\s+/env\.db\s+environment \$REPLI_DB$`).MatchString(c.stdout) {
		t.Errorf("repli config with $REPLI_DB:\n%s", c.stdout)
	}

	// A config file repli cannot read stops every command, saying which.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("sites:\n  primary: {url: \"sim://primary\"}\n"), 0o644)
	r = runRepli(t, "", "--config", bad, "history")
	if r.code != 2 || !strings.Contains(r.stderr, bad+": line 2: field url not found") {
		t.Errorf("a bad config: exit %d %s", r.code, r.stderr)
	}
}

// TestBashTabCompletion presses TAB in a real bash (in tmux) with the
// completion script repli generates and bash-completion loaded.
func TestBashTabCompletion(t *testing.T) {
	t.Parallel()
	const lib = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(lib); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("bash-completion is missing: make test installs it (apt-get install bash-completion)")
		}
		t.Skip("SKIPPING: bash-completion is not installed (make test installs it)")
	}
	bin := e2eBinary(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "repli.bash")
	out, err := exec.Command(bin, "completion", "bash").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, out, 0o644); err != nil {
		t.Fatal(err)
	}
	s := newTmux(t, 120, 30, "env -i TERM=xterm HOME="+dir+" PATH="+filepath.Dir(bin)+":/usr/bin:/bin REPLI_CONFIG=/dev/null bash --norc --noprofile")
	s.keys("PS1='$ '; source "+lib+"; source "+script+"; cd "+dir+"; clear; echo RE''ADY", "Enter")
	s.waitFor("READY")
	s.keys("repli pl", "Tab")
	s.waitFor("$ repli plan")
	s.keys("ann", "Tab")
	s.waitFor("$ repli plan annual-pra-test")
	s.keys("-l", "--", "--mode ")
	s.keys("Tab", "Tab")
	scr := s.waitFor("(the primary site is lost)")
	if !strings.Contains(scr, "failback") || !strings.Contains(scr, "planned") {
		t.Errorf("--mode TAB TAB:\n%s", scr)
	}
}

func TestValidateTakesNamesAndPrintsJSON(t *testing.T) {
	t.Parallel()
	r := runRepli(t, "", "validate", "annual-pra-test", "failback.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "runbooks/examples/annual-pra-test.yaml: ok — annual-pra-test, 8 steps") ||
		!strings.Contains(r.stdout, "runbooks/examples/failback.yaml: ok") {
		t.Errorf("validate bundled names: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runRepli(t, "", "validate", "--output", "json", "annual-pra-test", "testdata/runbooks/bad/sites-list.yaml")
	var got []struct {
		Arg, File, Runbook string
		OK                 bool
		Steps              int
		Diagnostics        []struct {
			Line, Col         int
			Severity, Message string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 1 || r.stderr != "" {
		t.Fatalf("validate --output json: exit %d, %v\n%s\nstderr: %s", r.code, err, r.stdout, r.stderr)
	}
	if len(got) != 2 || !got[0].OK || got[0].Steps != 8 || got[0].Runbook != "annual-pra-test" || got[1].OK {
		t.Fatalf("validate --output json: %+v", got)
	}
	if d := got[1].Diagnostics; len(d) != 5 || d[0].Line != 5 || d[0].Col != 5 || d[0].Severity != "error" || !strings.Contains(d[0].Message, `"Secondary"`) {
		t.Errorf("diagnostics %+v", d)
	}
	if r := runRepli(t, "", "validate", "--json", "no-such-runbook"); r.code != 2 || !strings.Contains(r.stdout, "no bundled runbook has that name") {
		t.Errorf("validate --json of a missing runbook: exit %d %s", r.code, r.stdout)
	}
}
