package store

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv selects what TestHelperProcess does when a test re-executes the
// test binary as another process.
const helperEnv = "REPLI_STORE_HELPER"

// helperResult is what a lease helper reports.
type helperResult struct {
	Won   bool   `json:"won"`
	Err   string `json:"err,omitempty"`
	Held  bool   `json:"held,omitempty"`
	Stale bool   `json:"stale,omitempty"`
	PID   int    `json:"pid"`
}

// TestHelperProcess is not a test: it is the other process of the tests
// that need one. It talks over stdin/stdout, and stays alive until its stdin
// is closed, so that a lease it won is held by a live process.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	args := strings.Split(os.Getenv(helperEnv+"_ARGS"), "\x1f")
	in := bufio.NewReader(os.Stdin)
	ctx := context.Background()
	fail := func(err error) {
		fmt.Printf("ERROR %v\n", err)
		os.Exit(2)
	}
	switch mode {
	case "lock":
		// Hold the write lock of args[0] until stdin closes.
		db, err := sql.Open("sqlite3", "file:"+args[0])
		if err != nil {
			fail(err)
		}
		c, err := db.Conn(ctx)
		if err != nil {
			fail(err)
		}
		if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			fail(err)
		}
		fmt.Println("LOCKED")
		io.Copy(io.Discard, in)
		c.ExecContext(ctx, "ROLLBACK")
	case "lease":
		// Open args[0], then on "go" race for run args[1] as operator args[2].
		s, err := Open(ctx, args[0])
		if err != nil {
			fail(err)
		}
		runID, _ := strconv.ParseInt(args[1], 10, 64)
		fmt.Println("READY")
		if _, err := in.ReadString('\n'); err != nil {
			fail(err)
		}
		res := helperResult{PID: os.Getpid()}
		_, err = s.AcquireLease(ctx, runID, Holder{Operator: args[2], Console: "helper"})
		var held *LeaseHeldError
		switch {
		case err == nil:
			res.Won = true
		case errors.As(err, &held):
			res.Err, res.Held, res.Stale = err.Error(), true, held.Stale
		default:
			res.Err = err.Error()
		}
		b, _ := json.Marshal(res)
		fmt.Printf("RESULT %s\n", b)
		io.Copy(io.Discard, in)
		s.Close()
	case "reserve":
		// Do what repli run does before the engine's first event: reserve a
		// run in args[0] and lease it; then wait to be killed.
		s, err := Open(ctx, args[0])
		if err != nil {
			fail(err)
		}
		id, err := s.CreateRun(ctx, RunInfo{Runbook: "erp", Mode: "test", Operator: "alice"})
		if err != nil {
			fail(err)
		}
		if _, err := s.AcquireLease(ctx, id, Holder{Operator: "alice", Console: "helper"}); err != nil {
			fail(err)
		}
		fmt.Printf("RESERVED %d\n", id)
		io.Copy(io.Discard, in)
	default:
		fail(fmt.Errorf("unknown helper mode %q", mode))
	}
	os.Exit(0)
}

// helperProc is a running TestHelperProcess.
type helperProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	done  bool
}

func startHelper(t *testing.T, mode string, args ...string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperEnv+"_ARGS="+strings.Join(args, "\x1f"))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helperProc{t: t, cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	t.Cleanup(h.stop)
	return h
}

// expect reads lines until one starts with prefix, and returns the rest.
// A helper that dies or says ERROR fails the test; a hung one is ended by
// the test's own timeout.
func (h *helperProc) expect(prefix string) string {
	h.t.Helper()
	for h.out.Scan() {
		line := h.out.Text()
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return strings.TrimSpace(rest)
		}
		if strings.HasPrefix(line, "ERROR") {
			h.t.Fatalf("helper %d: %s", h.cmd.Process.Pid, line)
		}
	}
	h.t.Fatalf("helper %d ended before saying %s (%v)", h.cmd.Process.Pid, prefix, h.out.Err())
	return ""
}

func (h *helperProc) send(line string) {
	h.t.Helper()
	if _, err := io.WriteString(h.stdin, line+"\n"); err != nil {
		h.t.Fatal(err)
	}
}

// stop closes the helper's stdin, which ends it, and waits for it.
func (h *helperProc) stop() {
	if h.done {
		return
	}
	h.done = true
	h.stdin.Close()
	waited := make(chan error, 1)
	go func() { waited <- h.cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			h.t.Errorf("helper %d: %v", h.cmd.Process.Pid, err)
		}
	case <-time.After(30 * time.Second):
		h.cmd.Process.Kill()
		h.t.Errorf("helper %d did not end; killed", h.cmd.Process.Pid)
	}
}
