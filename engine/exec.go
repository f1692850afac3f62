package engine

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/repli-dr/repli/runbooks"
)

// MaxCapture is how much of each output stream of a command is kept.
const MaxCapture = 64 << 10

// OutputCaptured keeps what a command printed, capped and redacted.
type OutputCaptured struct {
	Meta
	Step      string `json:"step"`
	Stream    string `json:"stream"`
	Text      string `json:"text"`
	Truncated int    `json:"truncated_bytes,omitempty"`
}

// Kind implements Event.
func (*OutputCaptured) Kind() string { return "output" }

func init() { eventTypes["output"] = func() Event { return &OutputCaptured{} } }

// ExecStarted records the process an exec step started, right after it
// started: with its pid and its start time (in clock ticks after boot, from
// /proc/PID/stat) a resume can tell whether that very process may still be
// running (ProcessAlive) instead of offering to run the command again.
type ExecStarted struct {
	Meta
	Action     int64  `json:"action"`
	Step       string `json:"step"`
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks,omitempty"`
}

// Kind implements Event.
func (*ExecStarted) Kind() string { return "exec.started" }

func init() { eventTypes["exec.started"] = func() Event { return &ExecStarted{} } }

// capBuffer keeps the first bytes written to it, up to limit, and counts
// them all. It keeps more than MaxCapture (limit is MaxCapture plus room for
// the longest secret) so that a secret straddling the cap is redacted whole
// before the text is cut to MaxCapture.
type capBuffer struct {
	buf   bytes.Buffer
	limit int
	total int
}

func (c *capBuffer) Write(p []byte) (int, error) {
	c.total += len(p)
	limit := c.limit
	if limit <= 0 {
		limit = MaxCapture
	}
	if room := limit - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// text is what was captured, redacted, then cut to MaxCapture on a
// character boundary, and how many bytes of the output were not kept.
func (c *capBuffer) text(redact func(string) string) (string, int) {
	s := redact(c.buf.String())
	dropped := max(c.total-MaxCapture, 0)
	if len(s) > MaxCapture {
		cut := MaxCapture
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s, dropped
}

type cmdResult struct {
	stdout, stderr capBuffer
	exit           int
	err            error
	redact         func(string) string
}

// secretName matches environment variable names whose values are redacted
// from captured output even when the runbook does not say so.
var secretName = regexp.MustCompile(`(?i)(pass|secret|token|key|credential)`)

// cmdSpec is one command to run.
type cmdSpec struct {
	argv      []string
	shell     bool
	timeout   time.Duration
	env       map[string]string
	secretEnv map[string]string
	dir       string
	redact    []string
	// started, if set, is told the process's pid and start time as soon as
	// it runs.
	started func(pid int, startTicks uint64)
	// supplied, if set, is told each secret read for secretEnv before the
	// command starts; an error stops the command from starting.
	supplied func(env, file, value string) error
}

// runCommand runs argv (or one shell line), in its own process group so a
// timeout kills everything it started.
func (e *Engine) runCommand(ctx context.Context, argv []string, shell bool, timeout time.Duration, env, secretEnv map[string]string, dir string, redact []string) *cmdResult {
	return e.run(ctx, cmdSpec{argv: argv, shell: shell, timeout: timeout, env: env, secretEnv: secretEnv, dir: dir, redact: redact})
}

// run runs a command. The process is the leader of its own process group (a
// timeout kills the group, everything the command started) and, on Linux,
// runs under a guard that kills that group when the console dies, however it
// dies (kill -9 included): a command never outlives the console that
// recorded its intent, so a resume never finds a first copy still running.
func (e *Engine) run(ctx context.Context, c cmdSpec) *cmdResult {
	res := &cmdResult{exit: -1}
	var secrets []string
	environ := os.Environ()
	for _, k := range sortedKeys(c.env) {
		environ = append(environ, k+"="+c.env[k])
		if secretName.MatchString(k) && len(c.env[k]) >= 4 {
			secrets = append(secrets, c.env[k])
		}
	}
	fromFiles, values, serr := readSecrets(c)
	secrets = append(secrets, values...)
	res.redact = redactor(secrets, c.redact)
	if serr != nil {
		res.err = serr
		return res
	}
	environ = append(environ, fromFiles...)
	margin := 4096
	for _, s := range secrets {
		margin = max(margin, 4*len(s)+64)
	}
	res.stdout.limit, res.stderr.limit = MaxCapture+margin, MaxCapture+margin
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	argv := c.argv
	if c.shell {
		argv = []string{"/bin/sh", "-c", c.argv[0]}
	} else if _, err := exec.LookPath(argv[0]); err != nil {
		res.err = errors.New(res.redact(err.Error()))
		return res
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if guarded {
		cmd = exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", guardScript, "repli-guard"}, argv...)...)
	}
	cmd.Env = environ
	if c.dir != "" {
		cmd.Dir = e.path(c.dir)
	}
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = &res.stdout, &res.stderr
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	// The parent-death signal is sent when the thread that started the
	// child exits, not the process: keep this goroutine on its thread until
	// the command is done.
	runtime.LockOSThread()
	err := cmd.Start()
	if err == nil {
		if c.started != nil {
			start, _ := processStart(cmd.Process.Pid)
			c.started(cmd.Process.Pid, start)
		}
		err = cmd.Wait()
	}
	runtime.UnlockOSThread()
	if cmd.ProcessState != nil {
		res.exit = cmd.ProcessState.ExitCode()
	}
	switch {
	case err == nil:
	case ctx.Err() == context.DeadlineExceeded && c.timeout > 0:
		res.err = fmt.Errorf("%w: still running after %s, killed", ErrTimeout, c.timeout)
	case res.exit > 0:
		res.err = fmt.Errorf("exited with status %d", res.exit)
	default:
		res.err = errors.New(res.redact(err.Error()))
	}
	return res
}

// guardScript runs the command ("$@") in the background of a shell that,
// when the console dies (its parent-death signal, SIGTERM), kills its whole
// process group: the command and everything the command started.
const guardScript = `trap 'kill -KILL 0' TERM; "$@" & wait $!`

// redactor returns a function that hides every secret and every match of the
// runbook's redact patterns. A secret is also found when the output breaks
// it across lines (a tool wrapping at 64 or 76 columns, CRLF line ends), and
// each line of a multi-line secret (a key file) is hidden on its own.
func redactor(secrets, patterns []string) func(string) string {
	var res []*regexp.Regexp
	for _, p := range patterns {
		if re, err := regexp.Compile(p); err == nil {
			res = append(res, re)
		}
	}
	var all []string
	for _, v := range secrets {
		all = append(all, v)
		if strings.Contains(v, "\n") {
			for _, line := range strings.Split(v, "\n") {
				if line = strings.TrimSpace(line); len(line) >= 8 {
					all = append(all, line)
				}
			}
		}
	}
	// Longest first, so a secret containing another is hidden whole.
	sort.SliceStable(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	var wrapped []*regexp.Regexp
	for _, v := range all {
		if len(v) >= 4 && len(v) <= 1024 {
			wrapped = append(wrapped, brokenAcrossLines(v))
		}
	}
	return func(s string) string {
		for _, v := range all {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
		if strings.ContainsAny(s, "\r\n") {
			for _, re := range wrapped {
				s = re.ReplaceAllString(s, "[REDACTED]")
			}
		}
		for _, re := range res {
			s = re.ReplaceAllString(s, "[REDACTED]")
		}
		return s
	}
}

// brokenAcrossLines matches v with a line break (and the indentation after
// it) allowed between any two of its characters.
func brokenAcrossLines(v string) *regexp.Regexp {
	var b strings.Builder
	for i, r := range v {
		if i > 0 {
			b.WriteString(`(?:\r?\n[ \t]*)?`)
		}
		if r == '\n' {
			b.WriteString(`\r?\n`)
			continue
		}
		b.WriteString(regexp.QuoteMeta(string(r)))
	}
	return regexp.MustCompile(b.String())
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// capture journals a command's output, redacted.
func (e *Engine) capture(ctx context.Context, step string, res *cmdResult) error {
	for _, s := range []struct {
		name string
		b    *capBuffer
	}{{"stdout", &res.stdout}, {"stderr", &res.stderr}} {
		if s.b.total == 0 {
			continue
		}
		text, dropped := s.b.text(res.redact)
		ev := &OutputCaptured{Step: step, Stream: s.name, Text: text, Truncated: dropped}
		if err := e.emit(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// CommandString renders a command for people: a shell line as written, an
// argument list as a shell would need it typed (each argument quoted when
// it must be), so that ["rm", "-f", "a b"] and "rm -f a b" never read the
// same. The trail also keeps the argument list itself (ActionIntent.Argv).
func CommandString(argv []string, shell bool) string { return runbooks.CommandString(argv, shell) }

func (e *Engine) execCommand(ctx context.Context, st *runbooks.Step) error {
	x := st.Exec
	argv := x.Command
	if x.Shell {
		argv = []string{"/bin/sh", "-c", x.Command[0]}
	}
	var res *cmdResult
	var action int64
	err := e.actDetail(ctx, st, "local", "", "exec", CommandString(x.Command, x.Shell), func(ctx context.Context) error {
		res = e.run(ctx, cmdSpec{argv: x.Command, shell: x.Shell, timeout: x.Timeout, env: x.Env, secretEnv: x.SecretEnv, dir: x.Dir, redact: x.Redact,
			started: func(pid int, start uint64) {
				// Advisory: the intent is already durable and the command
				// dies with this console; a trail that cannot take this
				// event will refuse the outcome too.
				_ = e.emit(ctx, &ExecStarted{Action: action, Step: st.ID, PID: pid, StartTicks: start})
			},
			supplied: func(env, file, value string) error {
				return e.emit(ctx, e.secretSupplied(st.ID, action, env, file, value))
			}})
		if err := e.capture(ctx, st.ID, res); err != nil {
			return err
		}
		if res.err != nil {
			return fmt.Errorf("command %w%s", res.err, lastLine(res.redact(res.stderr.buf.String())))
		}
		return nil
	}, func(in *ActionIntent) {
		in.Argv = argv
		action = in.Action
	})
	if err == nil && x.RecoveryPoint == "stdout" {
		return e.stdoutRecoveryPoint(ctx, st, res)
	}
	return err
}

// lastLine is the last line a failed command printed, to say why it failed.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return ": " + s
}

// DomainNameFromXML returns the <name> of a domain definition.
func DomainNameFromXML(s string) string {
	var v struct {
		Name string `xml:"name"`
	}
	if xml.Unmarshal([]byte(s), &v) != nil {
		return ""
	}
	return strings.TrimSpace(v.Name)
}
