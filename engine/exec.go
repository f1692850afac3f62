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
	"sort"
	"strings"
	"syscall"
	"time"

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

// capBuffer keeps the first MaxCapture bytes written to it and counts the rest.
type capBuffer struct {
	buf     bytes.Buffer
	dropped int
}

func (c *capBuffer) Write(p []byte) (int, error) {
	room := MaxCapture - c.buf.Len()
	if room >= len(p) {
		return c.buf.Write(p)
	}
	if room > 0 {
		c.buf.Write(p[:room])
	}
	c.dropped += len(p) - max(room, 0)
	return len(p), nil
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

// runCommand runs argv (or one shell line), in its own process group so a
// timeout kills everything it started.
func (e *Engine) runCommand(ctx context.Context, argv []string, shell bool, timeout time.Duration, env, secretEnv map[string]string, dir string, redact []string) *cmdResult {
	res := &cmdResult{exit: -1}
	var secrets []string
	environ := os.Environ()
	for _, k := range sortedKeys(env) {
		environ = append(environ, k+"="+env[k])
		if secretName.MatchString(k) && len(env[k]) >= 4 {
			secrets = append(secrets, env[k])
		}
	}
	for _, k := range sortedKeys(secretEnv) {
		b, err := os.ReadFile(secretEnv[k])
		if err != nil {
			// The path is the operator's; the content is never shown.
			res.err = fmt.Errorf("read the secret for %s from %s: %w", k, secretEnv[k], errors.Unwrap(err))
			res.redact = func(s string) string { return s }
			return res
		}
		v := strings.TrimRight(string(b), "\r\n")
		environ = append(environ, k+"="+v)
		if v != "" {
			secrets = append(secrets, v)
		}
	}
	res.redact = redactor(secrets, redact)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var cmd *exec.Cmd
	if shell {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", argv[0])
	} else {
		cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	}
	cmd.Env = environ
	if dir != "" {
		cmd.Dir = e.path(dir)
	}
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = &res.stdout, &res.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if cmd.ProcessState != nil {
		res.exit = cmd.ProcessState.ExitCode()
	}
	switch {
	case err == nil:
	case ctx.Err() == context.DeadlineExceeded && timeout > 0:
		res.err = fmt.Errorf("%w: still running after %s, killed", ErrTimeout, timeout)
	case res.exit > 0:
		res.err = fmt.Errorf("exited with status %d", res.exit)
	default:
		res.err = errors.New(res.redact(err.Error()))
	}
	return res
}

func redactor(secrets, patterns []string) func(string) string {
	var res []*regexp.Regexp
	for _, p := range patterns {
		if re, err := regexp.Compile(p); err == nil {
			res = append(res, re)
		}
	}
	// Longest first, so a secret containing another is hidden whole.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	return func(s string) string {
		for _, v := range secrets {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
		for _, re := range res {
			s = re.ReplaceAllString(s, "[REDACTED]")
		}
		return s
	}
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
		if s.b.buf.Len() == 0 && s.b.dropped == 0 {
			continue
		}
		ev := &OutputCaptured{Step: step, Stream: s.name, Text: res.redact(s.b.buf.String()), Truncated: s.b.dropped}
		if err := e.emit(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) execCommand(ctx context.Context, st *runbooks.Step) error {
	x := st.Exec
	var res *cmdResult
	err := e.actDetail(ctx, st, "local", "", "exec", strings.Join(x.Command, " "), func(ctx context.Context) error {
		res = e.runCommand(ctx, x.Command, x.Shell, x.Timeout, x.Env, x.SecretEnv, x.Dir, x.Redact)
		if err := e.capture(ctx, st.ID, res); err != nil {
			return err
		}
		if res.err != nil {
			return fmt.Errorf("command %w%s", res.err, lastLine(res.redact(res.stderr.buf.String())))
		}
		return nil
	})
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
