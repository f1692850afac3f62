package runbooks

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/repli-dr/repli/internal/textfmt"
)

// This file is the plan's wording of the built-in kinds: KindSpec.Describe
// (one line) and KindSpec.Details (label, text lines).

// CommandString renders a command for people: a shell line as written, an
// argument list as a shell would need it typed (each argument quoted when
// it must be), so that ["rm", "-f", "a b"] and "rm -f a b" never read the
// same.
func CommandString(argv []string, shell bool) string {
	if shell && len(argv) == 1 {
		return argv[0]
	}
	words := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && plainWord.MatchString(a) {
			words[i] = a
		} else {
			words[i] = ShellQuote(a)
		}
	}
	return strings.Join(words, " ")
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// TargetText renders a target for a plan, saying when it is resolved only
// at run time.
func TargetText(t Target) string {
	if t.Dynamic() {
		return t.String() + " (resolved at run time)"
	}
	return t.String()
}

func stepTargetText(st *Step) string {
	ts := st.Targets()
	if len(ts) == 0 {
		return ""
	}
	return TargetText(ts[0])
}

// probeText says what a check asserts.
func probeText(c *Check) string {
	switch {
	case c.State != "":
		return TargetText(c.Target) + ": all in state " + c.State
	case c.Agent:
		return TargetText(c.Target) + ": every guest agent answers"
	case c.TCP != "":
		return "tcp " + c.TCP + " accepts a connection"
	case c.File != "" && c.MaxAge == 0:
		return "file " + c.File + " matches " + checksumText(c)
	case c.File != "" && (c.SHA256 != "" || c.SHA256File != ""):
		return "file " + c.File + " is younger than " + textfmt.Spelled(c.MaxAge) + " and matches " + checksumText(c)
	case c.File != "":
		return "file " + c.File + " is younger than " + textfmt.Spelled(c.MaxAge)
	case c.Shell:
		return "shell line exits 0: " + CommandString(c.Command, true)
	case len(c.Command) > 0:
		return "command exits 0: " + CommandString(c.Command, false)
	}
	return ""
}

// powerWords: the plan's verb, detail label, and the detail text around
// the target, of the kinds whose body is a plain target.
var powerWords = map[Kind][4]string{
	KindDestroy:  {"force off", "destroy", "", ": forced off, no graceful shutdown"},
	KindSuspend:  {"pause", "pause", "", ""},
	KindResume:   {"resume", "resume", "", ""},
	KindUndefine: {"remove the definitions of", "remove", "the definitions of ", " (disks are kept)"},
}

func describeManual(st *Step) string { return "the operator: " + textfmt.OneLine(st.Manual.Text) }

func detailsManual(st *Step) [][2]string {
	out := [][2]string{{"do", st.Manual.Text}}
	for i, item := range st.Manual.Checklist {
		out = append(out, [2]string{firstLabel(i, "tick"), "[ ] " + item})
	}
	if st.Manual.Record {
		out = append(out, [2]string{"record", "the operator types an answer, kept in the audit trail"})
	}
	return out
}

// firstLabel labels the first line of a list, and leaves the others blank.
func firstLabel(i int, label string) string {
	if i == 0 {
		return label
	}
	return ""
}

func detailsCheck(st *Step) [][2]string {
	out := [][2]string{{"expect", probeText(st.Check)}, {"timeout", textfmt.Spelled(st.Check.Timeout) + " per probe"}}
	if st.Check.SHA256File != "" {
		out = append(out, [2]string{"sha256", "its line for " + filepath.Base(st.Check.File) + ", in sha256sum format"})
	}
	if st.Check.RecoveryPoint {
		out = append(out, [2]string{"rpo", "the file's modification time is the recovery point"})
	}
	return out
}

func detailsShutdown(st *Step) [][2]string {
	s := st.Shutdown
	then := " per domain, then the step fails (force: false)"
	if s.Force {
		then = " per domain, then it is forced off"
	}
	order := ", one at a time, in this order"
	if s.MaxParallel > 1 {
		order = ", " + atATime(s.MaxParallel) + ", taken in this order"
	}
	return [][2]string{{"stop", stepTargetText(st) + order}, {"timeout", textfmt.Spelled(s.Timeout) + then}}
}

// atATime says how many domains a step acts on at once.
func atATime(n int) string {
	if n <= 1 {
		return "one at a time"
	}
	return fmt.Sprintf("%d at a time", n)
}

func singletons(groups [][]string) bool {
	for _, g := range groups {
		if len(g) != 1 {
			return false
		}
	}
	return true
}

func describeStart(st *Step) string {
	s := st.Start
	if len(s.Groups) > 1 && s.Glob == "" && !s.All && !singletons(s.Groups) {
		return fmt.Sprintf("start %s in %d groups", stepTargetText(st), len(s.Groups))
	}
	return "start " + stepTargetText(st)
}

func detailsStart(st *Step) [][2]string {
	s := st.Start
	var out [][2]string
	add := func(label, text string) { out = append(out, [2]string{label, text}) }
	switch {
	case s.Glob != "" || s.All:
		add("start", stepTargetText(st)+", one by one")
	case len(s.Groups) == 1 && len(s.Groups[0]) == 1:
		add("start", stepTargetText(st))
	case singletons(s.Groups):
		add("start", stepTargetText(st)+", one by one, in this order")
	default:
		add("start", "at "+s.Site+", group by group, each group together:")
		for i, g := range s.Groups {
			add("", fmt.Sprintf("%d. %s", i+1, strings.Join(g, ", ")))
		}
	}
	if s.MaxParallel > 0 {
		add("parallel", fmt.Sprintf("at most %d at once", s.MaxParallel))
	}
	until := "running"
	if s.Wait == "agent" {
		until = "the guest agent answers"
	}
	add("until", until+", at most "+textfmt.Spelled(s.Timeout)+" per domain")
	return out
}

func describeDefine(st *Step) string {
	d := st.Define
	if d.CopyFrom != "" {
		return fmt.Sprintf("copy the definitions of %s from %s to %s", strings.Join(d.Domains, ", "), d.CopyFrom, d.Site)
	}
	return fmt.Sprintf("define domains at %s from %s", d.Site, strings.Join(d.XML, ", "))
}

func detailsDefine(st *Step) [][2]string {
	d := st.Define
	if d.CopyFrom != "" {
		return [][2]string{{"define", fmt.Sprintf("%s at %s, copying the definitions from %s", strings.Join(d.Domains, ", "), d.Site, d.CopyFrom)}}
	}
	return [][2]string{{"define", fmt.Sprintf("at %s, from %s", d.Site, strings.Join(d.XML, ", "))}}
}

func describeSnapshot(st *Step) string {
	s := st.Snapshot
	switch s.Action {
	case SnapshotRevert:
		return fmt.Sprintf("revert %s to snapshot %s", stepTargetText(st), s.Name)
	case SnapshotDelete:
		return fmt.Sprintf("delete snapshot %s of %s", s.Name, stepTargetText(st))
	}
	return fmt.Sprintf("create snapshot %s of %s", s.Name, stepTargetText(st))
}

func detailsSnapshot(st *Step) [][2]string {
	s := st.Snapshot
	if s.Action == SnapshotRevert {
		return [][2]string{{"snapshot", fmt.Sprintf("revert %s to %s", stepTargetText(st), s.Name)}}
	}
	return [][2]string{{"snapshot", fmt.Sprintf("%s %s of %s", s.Action, s.Name, stepTargetText(st))}}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func describeAutostart(st *Step) string {
	return "turn autostart " + onOff(st.Autostart.Enabled) + " for " + stepTargetText(st)
}

func detailsAutostart(st *Step) [][2]string {
	return [][2]string{{"autostart", onOff(st.Autostart.Enabled) + " for " + stepTargetText(st)}}
}

func describeExec(st *Step) string {
	if st.Exec.Shell {
		return "run the shell line " + textfmt.OneLine(CommandString(st.Exec.Command, true))
	}
	return "run " + CommandString(st.Exec.Command, false)
}

func detailsExec(st *Step) [][2]string {
	e := st.Exec
	var out [][2]string
	add := func(label, text string) { out = append(out, [2]string{label, text}) }
	if e.Shell {
		add("shell", strings.Join(e.Command, " "))
	} else {
		add("run", CommandString(e.Command, false))
	}
	if e.Dir != "" {
		add("dir", e.Dir)
	}
	for i, k := range sortedNames(e.Env) {
		add(firstLabel(i, "env"), k+"="+e.Env[k])
	}
	for i, k := range sortedNames(e.SecretEnv) {
		add(firstLabel(i, "secret"), k+" from the file "+e.SecretEnv[k]+" (never shown or stored)")
	}
	if len(e.Redact) > 0 {
		add("redact", strings.Join(e.Redact, "  "))
	}
	add("timeout", textfmt.Spelled(e.Timeout))
	if e.Site != "" {
		add("site", "concerns "+e.Site)
	}
	if e.RecoveryPoint == "stdout" {
		add("rpo", "the last line of output is the recovery point (RFC 3339)")
	}
	return out
}

func describeWait(st *Step) string {
	if st.Wait.Until != nil {
		return fmt.Sprintf("wait until %s, at most %s", probeText(st.Wait.Until), textfmt.Spelled(st.Wait.Timeout))
	}
	return "wait " + textfmt.Spelled(st.Wait.Duration)
}

func detailsWait(st *Step) [][2]string {
	w := st.Wait
	if w.Until != nil {
		return [][2]string{{"until", probeText(w.Until)}, {"timeout", textfmt.Spelled(w.Timeout) + ", polling every few seconds"}}
	}
	return [][2]string{{"wait", textfmt.Spelled(w.Duration)}}
}
