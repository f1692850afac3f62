// Command repli is a terminal disaster-recovery console for two-site
// KVM/libvirt estates: it runs YAML runbooks through confirmation gates and
// keeps every action in a local, tamper-evident SQLite audit trail.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, documented in the README.
const (
	exitOK      = 0
	exitFailed  = 1 // the run failed or was aborted; the runbook is invalid
	exitUsage   = 2 // bad input: flags, files, a runbook that cannot be run
	exitStopped = 3 // the run stopped before its end and can be resumed
)

// exitError carries an exit code up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func main() {
	// SIGHUP is what a dropped SSH session sends: stop cleanly, stay resumable.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	cmd := newRootCmd()
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != errSilent {
			fmt.Fprintln(os.Stderr, "repli:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "repli:", err)
	return exitUsage
}

// errSilent is for failures already explained on the terminal.
var errSilent = errors.New("")
