package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"
)

// term is a program running in a real pseudo-terminal of a fixed size,
// read by this process as a terminal emulator would be: every byte the
// program writes to its terminal is counted, and the few questions a
// full-screen program asks its terminal (background colour, cursor
// position, device attributes) are answered as xterm does, so that the
// program never waits for an answer that does not come.
type term struct {
	cmd  *exec.Cmd
	tty  *os.File
	done chan struct{} // closed when the program's side is closed (EOF/EIO)

	mu      sync.Mutex
	n       int64  // bytes read from the terminal
	tail    []byte // the last bytes read, for markers and queries split across reads
	text    string // the tail, escape sequences removed
	waiters []waiter
	exitErr error
}

type waiter struct {
	marker string
	ch     chan struct{}
}

// terminal questions and xterm's answers.
var queries = []struct{ q, a string }{
	{"\x1b]11;?", "\x1b]11;rgb:0000/0000/0000\x1b\\"},
	{"\x1b]10;?", "\x1b]10;rgb:ffff/ffff/ffff\x1b\\"},
	{"\x1b[6n", "\x1b[1;1R"},
	{"\x1b[c", "\x1b[?62;22c"},
}

const tailMax = 16 << 10

// startTerm runs name with args in a cols×rows pseudo-terminal.
func startTerm(env []string, cols, rows int, name string, args ...string) (*term, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
	if err != nil {
		return nil, fmt.Errorf("start %s in a pseudo-terminal: %w", name, err)
	}
	t := &term{cmd: cmd, tty: tty, done: make(chan struct{})}
	go t.read()
	return t, nil
}

func (t *term) read() {
	defer close(t.done)
	buf := make([]byte, 32<<10)
	for {
		k, err := t.tty.Read(buf)
		if k > 0 {
			t.got(buf[:k])
		}
		if err != nil {
			return // EIO once the program's side is closed
		}
	}
}

func (t *term) got(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := len(t.tail)
	t.n += int64(len(p))
	t.tail = append(t.tail, p...)
	// Answer each question whose last byte is new.
	for _, q := range queries {
		from := max(0, old-len(q.q)+1)
		for i := from; ; {
			j := bytes.Index(t.tail[i:], []byte(q.q))
			if j < 0 {
				break
			}
			t.tty.Write([]byte(q.a))
			i += j + len(q.q)
		}
	}
	if len(t.tail) > tailMax {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-tailMax/2:]...)
	}
	if len(t.waiters) > 0 {
		t.text = ansi.Strip(string(t.tail))
		kept := t.waiters[:0]
		for _, w := range t.waiters {
			if strings.Contains(t.text, w.marker) {
				close(w.ch)
			} else {
				kept = append(kept, w)
			}
		}
		t.waiters = kept
	}
}

// bytes is how many bytes the program has written to its terminal.
func (t *term) bytes() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// screenText is the last bytes written, escape sequences removed: what to
// show when a marker never comes.
func (t *term) screenText() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := ansi.Strip(string(t.tail))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return s
}

// forget drops what was read so far from the markers' view: a marker
// waited for next must be written after this call.
func (t *term) forget() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tail = t.tail[:0]
}

// waitFor waits until marker appears in the text written since the last
// forget (escape sequences removed), or the program's side closes.
func (t *term) waitFor(marker string, timeout time.Duration) error {
	t.mu.Lock()
	if strings.Contains(ansi.Strip(string(t.tail)), marker) {
		t.mu.Unlock()
		return nil
	}
	w := waiter{marker, make(chan struct{})}
	t.waiters = append(t.waiters, w)
	t.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-t.done:
		return fmt.Errorf("the program left before showing %q: %s", marker, t.screenText())
	case <-time.After(timeout):
		return fmt.Errorf("%q not on the screen after %s: %s", marker, timeout, t.screenText())
	}
}

// send types keys.
func (t *term) send(keys string) error {
	_, err := io.WriteString(t.tty, keys)
	return err
}

// wait waits for the program to exit and its output to be read.
func (t *term) wait(timeout time.Duration) error {
	exited := make(chan error, 1)
	go func() { exited <- t.cmd.Wait() }()
	select {
	case err := <-exited:
		select {
		case <-t.done:
		case <-time.After(2 * time.Second): // a child kept the terminal open
		}
		t.tty.Close()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s exited with %d: %s", t.cmd.Path, ee.ExitCode(), t.screenText())
		}
		return err
	case <-time.After(timeout):
		t.kill()
		return fmt.Errorf("%s still running after %s: %s", t.cmd.Path, timeout, t.screenText())
	}
}

// kill ends the program (its process only: a detached engine it started is
// its own process group and ends with its run).
func (t *term) kill() {
	if t.cmd.Process != nil {
		t.cmd.Process.Kill()
	}
	t.tty.Close()
}
