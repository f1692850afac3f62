package main

// End-to-end tests of what repli takes in from outside: vars in shell lines,
// control characters in runbooks and command output, and the commands a
// console starts when it dies.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

func writeRunbook(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestShellInjectionThroughVar: a --var value holding shell syntax reaches
// a shell line as one word and runs nothing; the quoted pattern that the
// bundled hybrid-restore used ('${work}') is refused before anything runs.
func TestShellInjectionThroughVar(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	out := filepath.Join(dir, "out")
	head := `version: 1
name: inject
vars:
  target: web-01
sites:
  primary: {uri: sim://primary}
steps:
  - id: deploy
    exec:
      shell: true
      command: `
	plain := writeRunbook(t, head+"printf '%s\\n' ${target} > "+out+"\n")
	quoted := writeRunbook(t, head+"printf '%s\\n' '${target}' > "+out+"\n")
	for _, v := range []string{"x; touch " + pwned, "x'; touch " + pwned + "; echo '", "$(touch " + pwned + ")"} {
		db := filepath.Join(t.TempDir(), "audit.db")
		r := runRepli(t, "", "run", plain, "--plain", "--auto-approve", "--db", db, "--var", "target="+v)
		if r.code != 0 {
			t.Fatalf("target=%q: exit %d\n%s\n%s", v, r.code, r.stdout, r.stderr)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatalf("target=%q ran a command", v)
		}
		if b, _ := os.ReadFile(out); string(b) != v+"\n" {
			t.Errorf("target=%q: the command got %q", v, b)
		}
		r = runRepli(t, "", "run", quoted, "--plain", "--auto-approve", "--db", db, "--var", "target="+v)
		if r.code != 2 || !strings.Contains(r.stderr, "plan.yaml:11:31: step deploy: ${target} is inside single quotes") {
			t.Errorf("quoted var: exit %d\n%s", r.code, r.stderr)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatalf("target=%q in quotes ran a command", v)
		}
	}
}

// TestNoRawControlCharactersReachTheScreen: a runbook whose title, step
// title and manual text, and a command whose output, hold ESC, BEL, the C1
// CSI U+009B and the bidi override U+202E: nothing repli prints holds them
// raw, in any view of the run.
func TestNoRawControlCharactersReachTheScreen(t *testing.T) {
	t.Parallel()
	src := `version: 1
name: hostile
title: "Drill \e]0;owned\a \u009b2J \u202eenilno"
sites:
  primary: {uri: sim://primary}
steps:
  - id: read
    title: "Read \e[2J\e[H\u009b31m \u202etxt.exe"
    manual: "Call \e]2;x\a the \u202eDBA\u202c"
    checklist: ["tick \e[5m\u009b1m"]
  - id: out
    title: Print hostile output
    exec:
      command: printf 'out \033[2J\033]0;t\007 \302\233H \342\200\256gpj.exe\n'; printf 'err \033[31m\n' >&2; exit 0
      shell: true
`
	plan := writeRunbook(t, src)
	db := filepath.Join(t.TempDir(), "audit.db")
	views := map[string]result{}
	views["run --plain"] = runRepli(t, "", "run", plan, "--plain", "--auto-approve", "--db", db)
	if r := views["run --plain"]; r.code != 0 {
		t.Fatalf("run: exit %d\n%q\n%q", r.code, r.stdout, r.stderr)
	}
	views["show"] = runRepli(t, "", "show", "1", "--db", db)
	views["show --json"] = runRepli(t, "", "show", "1", "--json", "--db", db)
	views["report"] = runRepli(t, "", "report", "1", "--db", db)
	views["report --format json"] = runRepli(t, "", "report", "1", "--format", "json", "--db", db)
	views["watch --plain"] = runRepli(t, "", "watch", "1", "--plain", "--db", db)
	views["history"] = runRepli(t, "", "history", "--db", db)
	views["validate"] = runRepli(t, "", "validate", plan)
	for name, r := range views {
		for _, stream := range []string{r.stdout, r.stderr} {
			for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e"} {
				if i := strings.Index(stream, bad); i >= 0 {
					t.Errorf("%s printed %q raw: …%q…", name, bad, stream[max(0, i-40):min(len(stream), i+40)])
				}
			}
		}
	}
	// What was hidden is shown escaped, not dropped.
	for name, want := range map[string]string{
		"run --plain":   `out \x1b[2J\x1b]0;t\x07 \u009bH \u202egpj.exe`,
		"report":        `Drill ␛\]0;owned␇ ⟨U+009B⟩2J ⟨U+202E⟩enilno`, // internal/report's visible form, Markdown-escaped
		"watch --plain": `read ✓ tick \x1b[5m\u009b1m`,
		"validate":      `warning: title holds control characters`,
	} {
		if r := views[name]; !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("%s lacks %q:\n%s\n%s", name, want, r.stdout, r.stderr)
		}
	}
}

// TestConsoleKillTakesItsCommandAlong: kill -9 of the console while an exec
// step runs leaves nothing of the command running (the shell, and what the
// shell started), and the trail says which process it was.
func TestConsoleKillTakesItsCommandAlong(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	plan := writeRunbook(t, `version: 1
name: long
sites:
  primary: {uri: sim://primary}
steps:
  - id: sync
    exec:
      command: sleep 300 & echo "$$ $!" > `+pids+`.tmp; mv `+pids+`.tmp `+pids+`; wait
      shell: true
`)
	db := filepath.Join(dir, "audit.db")
	c := startRepli(t, nil, "run", plan, "--plain", "--auto-approve", "--db", db)
	var ids []int
	for deadline := time.Now().Add(time.Minute); len(ids) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the command never started\n%s\n%s", c.out.String(), c.errOut.String())
		}
		if b, err := os.ReadFile(pids); err == nil {
			for _, f := range strings.Fields(string(b)) {
				n, _ := strconv.Atoi(f)
				ids = append(ids, n)
			}
		}
	}
	c.kill()
	for _, pid := range ids {
		// The kernel signals the guard when the console dies; the guard
		// kills the group. Poll (no timing asserted), a minute at most.
		deadline := time.Now().Add(time.Minute)
		for engine.ProcessAlive(pid, 0) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if engine.ProcessAlive(pid, 0) {
			t.Errorf("pid %d of the command still runs after the console was killed", pid)
			syscallKill(pid)
		}
	}
	r := runRepli(t, "", "show", "1", "--json", "--db", db)
	if r.code != 0 {
		t.Fatalf("show: %d %s", r.code, r.stderr)
	}
}

func syscallKill(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

// TestSitePasswordNeverStored: a password written in a site URI is in no
// byte of the audit trail (the recorded runbook text included) and in no
// view of the run.
func TestSitePasswordNeverStored(t *testing.T) {
	t.Parallel()
	const pw = "s3cret-Pw-77"
	plan := writeRunbook(t, `version: 1
name: pw
sites:
  primary: {uri: "sim://ops:`+pw+`@primary"}
steps:
  - id: check
    check: {site: primary, domains: [db-01], state: running}
`)
	dir := t.TempDir()
	db := filepath.Join(dir, "audit.db")
	r := runRepli(t, "", "run", plan, "--plain", "--auto-approve", "--db", db)
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "warning: site primary: the URI holds a password") {
		t.Errorf("no warning:\n%s", r.stderr)
	}
	views := []result{r,
		runRepli(t, "", "show", "1", "--json", "--db", db),
		runRepli(t, "", "report", "1", "--db", db),
	}
	for _, v := range views {
		if strings.Contains(v.stdout+v.stderr, pw) {
			t.Errorf("the password is shown:\n%s\n%s", v.stdout, v.stderr)
		}
	}
	// The trail and its WAL (the simulated lab's own state file names its
	// sites by URI, as the simulator does; a real site has none).
	for _, f := range []string{db, db + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && f == db {
			t.Fatal(err)
		}
		if strings.Contains(string(b), pw) {
			t.Errorf("%s holds the password", f)
		}
	}
}
