package runbooks_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/repli-dr/repli/runbooks"
)

// TestShellVarsAreOneWord runs the parsed shell line with the real /bin/sh:
// whatever a var holds, it arrives as one argument (a list var as one per
// entry) and nothing in it runs.
func TestShellVarsAreOneWord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	hostile := []string{
		"x; touch " + pwned,
		"x' ; touch " + pwned + " ; '",
		"$(touch " + pwned + ")",
		"`touch " + pwned + "`",
		"a\nb\"c\\d $HOME *",
		"",
	}
	src := `version: 1
name: inject
vars:
  target: t
  hosts: [a, b]
sites:
  primary: {uri: sim://primary}
steps:
  - id: run
    exec:
      command: printf '<%s>\n' ${target} ${hosts} x${target}y "$(printf %s ${target})"
      shell: true
`
	for _, v := range hostile {
		rb, diags := runbooks.ParseWith("inject.yaml", []byte(src), map[string]string{"target": v, "hosts": "h1, h 2"})
		if rb == nil {
			t.Fatalf("refused: %v", diags)
		}
		line := rb.Steps[0].Exec.Command[0]
		out, err := exec.Command("/bin/sh", "-c", line).CombinedOutput()
		if err != nil {
			t.Fatalf("sh -c %q: %v\n%s", line, err, out)
		}
		want := "<" + v + ">\n<h1>\n<h 2>\n<x" + v + "y>\n<" + v + ">\n"
		if string(out) != want {
			t.Errorf("target=%q: sh printed %q, want %q (line %s)", v, out, want, line)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatalf("target=%q ran a command: %s", v, line)
		}
	}
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "''", "a b": "'a b'", "it's": `'it'\''s'`} {
		if got := runbooks.ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestShellVarContexts: where a var may stand in a shell line.
func TestShellVarContexts(t *testing.T) {
	t.Parallel()
	head := "version: 1\nname: ctx\nvars: {v: val}\nsites: {primary: {uri: sim://primary}}\nsteps:\n  - id: s\n    exec:\n      shell: true\n      command: "
	for _, tt := range []struct {
		line string
		want string // "" means accepted
	}{
		{`echo ${v}`, ""},
		{`echo $(echo ${v}) "$(cat ${v})"`, ""},
		{`echo a\'b ${v} # it's fine`, ""},
		{`echo "$${HOME}" ${v}`, ""},
		{`echo '${v}'`, "inside single quotes"},
		{`echo "a ${v}"`, "inside double quotes"},
		{"echo `cat ${v}`", "backquotes"},
		{"echo \"$(echo `x ${v}`)\"", "backquotes"},
		{`echo $${x:-${v}}`, "shell ${…} expansion"},
		{`echo $((${v} + 1))`, "arithmetic"},
		{`echo $'a\'b' ' ${v}`, "$'…'"},
	} {
		src := head + "'" + strings.ReplaceAll(tt.line, "'", "''") + "'\n"
		rb, diags := runbooks.Parse("ctx.yaml", []byte(src))
		switch {
		case tt.want == "" && rb == nil:
			t.Errorf("%s: refused: %v", tt.line, diags)
		case tt.want != "" && rb != nil:
			t.Errorf("%s: accepted as %q", tt.line, rb.Steps[0].Exec.Command[0])
		case tt.want != "" && !strings.Contains(diags.Error(), tt.want):
			t.Errorf("%s: got %v, want %q", tt.line, diags, tt.want)
		}
	}
}

// TestControlCharactersWarned: a title, a manual text, a domain name or a
// command holding escape sequences or bidi overrides is accepted with a
// warning at its position, the characters shown escaped.
func TestControlCharactersWarned(t *testing.T) {
	t.Parallel()
	src := "version: 1\nname: esc\ntitle: \"Drill \\e]0;owned\\a\"\nsites: {primary: {uri: sim://primary}}\nsteps:\n" +
		"  - id: m\n    manual: \"Call \\u202eenilno\\u202c now\"\n" +
		"  - id: c\n    check: {site: primary, domains: [\"db\\u009b2J\"], state: running}\n" +
		"  - id: x\n    exec: {command: \"echo \\e[2J\", shell: true}\n"
	rb, diags := runbooks.Parse("esc.yaml", []byte(src))
	if rb == nil {
		t.Fatalf("refused: %v", diags)
	}
	got := diags.Error()
	for _, want := range []string{
		`esc.yaml:3:8: warning: title holds control characters`, `Drill \x1b]0;owned\x07`,
		`esc.yaml:7:13: warning: step m manual holds control characters`, `Call \u202eenilno\u202c now`,
		`esc.yaml:9:38: warning: an entry of step c domains holds control characters`, `db\u009b2J`,
		`esc.yaml:11:21: warning: step x command holds control characters`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, got)
		}
	}
	for _, r := range got {
		if r == 0x1b || r == 0x07 || r == 0x9b || r == 0x202e {
			t.Fatalf("a diagnostic holds %U raw:\n%s", r, got)
		}
	}
}

// FuzzShellLine: whatever the shell line and the var's value, the parser
// does not panic, and an accepted line run by sh never runs the value.
func FuzzShellLine(f *testing.F) {
	for _, s := range []string{`echo ${v}`, `echo '${v}'`, "echo `${v}`", `echo $((${v}))`, `echo \${v}`, `echo $${v:-${v}}`, `echo $'${v}'`, `cat <<E
${v}
E`} {
		f.Add(s, "x; touch /tmp/repli-fuzz-pwned")
	}
	f.Fuzz(func(t *testing.T, line, value string) {
		src := "version: 1\nname: f\nvars: {v: x}\nsites: {primary: {uri: sim://primary}}\nsteps:\n  - id: s\n    exec:\n      shell: true\n      command: \"" + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(line) + "\"\n"
		rb, _ := runbooks.ParseWith("f.yaml", []byte(src), map[string]string{"v": value})
		if rb == nil || !strings.Contains(line, "${v}") {
			return
		}
		got := rb.Steps[0].Exec.Command[0]
		if strings.Contains(value, "${") || strings.Contains(line, "$${") {
			return
		}
		// The value appears only inside repli's quotes.
		quoted := runbooks.ShellQuote(value)
		if rest := strings.ReplaceAll(got, quoted, ""); value != "" && len(value) > 3 && strings.Contains(rest, value) && !strings.Contains(line, value) {
			t.Fatalf("line %q with v=%q became %q: the value is outside quotes", line, value, got)
		}
	})
}
