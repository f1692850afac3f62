package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
	"github.com/repli-dr/repli/ui"
)

// startDetached starts the run's engine in a process of its own and
// attaches this console to it. The readiness the operator acknowledges on
// the terminal UI (and an override they type) goes with the request; the
// engine checks the sites again itself and records what it finds.
func startDetached(ctx context.Context, rb *runbooks.Runbook, mode string, req Request, con Console) error {
	if _, err := replicaCheck(req, mode, Simulated(req.URIs), con.Operator); err != nil {
		return err
	}
	if con.TUI {
		open := func(ctx context.Context, c ui.Choice, con Console) (screen, error) {
			r := req
			if c.Override != "" {
				r.Override = c.Override
			}
			m, err := rb.RunMode(c.Mode, true)
			if err != nil {
				return nil, usage(err)
			}
			return Open(ctx, rb, m, r, con)
		}
		check := Checker(rb, nil, req)
		if req.Override != "" {
			check = nil // overridden on the command line: nothing to ask
		}
		return console(ctx, ui.Choice{Kind: ui.ChoiceStart, Runbook: rb.Name, Mode: mode, Override: req.Override}, check, open, con)
	}
	id, err := spawn(ctx, Spec{Mode: mode, Request: req, Console: con})
	if err != nil {
		return err
	}
	return attach(ctx, req.DB, id, "", con, true)
}

// resumeDetached carries on with a run in a detached engine, or attaches
// to the one that already drives it.
func resumeDetached(ctx context.Context, id int64, takeOver string, req Request, con Console) error {
	if _, err := Ping(ctx, req.DB, id); err == nil {
		fmt.Fprintf(con.Err, "repli: run %d is already driven by its detached engine; attaching to it\n", id)
		return Attach(ctx, req.DB, id, takeOver, con)
	}
	if err := resumable(ctx, req.DB, id); err != nil {
		return err
	}
	if _, err := spawn(ctx, Spec{Resume: id, TakeOver: takeOver, Request: req, Console: con}); err != nil {
		return err
	}
	return attach(ctx, req.DB, id, "", con, true)
}

// Open starts a run of rb in a detached engine and attaches this console
// to it without showing anything: the caller shows the run screen (the
// console's one program) and calls Leave when it closes. The preflight is
// the caller's: req.Override carries the reason a blocked run was started.
func Open(ctx context.Context, rb *runbooks.Runbook, mode string, req Request, con Console) (*Attached, error) {
	if _, err := replicaCheck(req, mode, Simulated(req.URIs), con.Operator); err != nil {
		return nil, err
	}
	id, err := spawn(ctx, Spec{Mode: mode, Request: req, Console: con})
	if err != nil {
		return nil, err
	}
	return open(ctx, req.DB, id, "", con, true)
}

// OpenResume carries on with a run in a detached engine, or attaches to
// the engine that already drives it, as Open does.
func OpenResume(ctx context.Context, id int64, takeOver string, req Request, con Console) (*Attached, error) {
	if _, err := Ping(ctx, req.DB, id); err == nil {
		return open(ctx, req.DB, id, takeOver, con, false)
	}
	if err := resumable(ctx, req.DB, id); err != nil {
		return nil, err
	}
	if _, err := spawn(ctx, Spec{Resume: id, TakeOver: takeOver, Request: req, Console: con}); err != nil {
		return nil, err
	}
	return open(ctx, req.DB, id, "", con, true)
}

// resumable refuses a run that already ended.
func resumable(ctx context.Context, dbPath string, id int64) error {
	db, err := store.OpenReadOnly(ctx, dbPath)
	if err != nil {
		return usage(err)
	}
	run, err := db.Run(ctx, id)
	db.Close()
	if err != nil {
		return usage(err)
	}
	if run.Outcome != engine.OutcomeRunning {
		return usage(fmt.Errorf("run %d already ended (%s); there is nothing to resume", id, run.Outcome))
	}
	return nil
}

// spawn starts the engine process: the repli binary again, with the hidden
// engine command, in a session of its own (no terminal: a hang-up of the
// console's terminal never reaches it), stdin /dev/null, its output in a
// log beside the trail. It returns the run's id once the engine holds the
// run, or why it did not start.
func spawn(ctx context.Context, sp Spec) (int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("start the engine process: find repli's executable: %w", err)
	}
	if sp.Request.DB, err = filepath.Abs(sp.Request.DB); err != nil {
		return 0, fmt.Errorf("start the engine process: %w", err)
	}
	sp.Log = LogPath(sp.Request.DB, sp.Resume)
	if sp.Resume == 0 {
		sp.Log = fmt.Sprintf("%s.engine-%d.log", sp.Request.DB, os.Getpid())
	}
	if err := os.MkdirAll(filepath.Dir(sp.Log), 0o700); err != nil {
		return 0, fmt.Errorf("start the engine process: %w", err)
	}
	log, err := os.OpenFile(sp.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("start the engine process: open its log: %w", err)
	}
	defer log.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 0, fmt.Errorf("start the engine process: %w", err)
	}
	defer null.Close()
	specR, specW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("start the engine process: %w", err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		specR.Close()
		specW.Close()
		return 0, fmt.Errorf("start the engine process: %w", err)
	}
	defer repR.Close()
	cmd := exec.Command(exe, EngineCommand)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, log, log
	cmd.ExtraFiles = []*os.File{specR, repW} // fd 3, fd 4
	cmd.SysProcAttr = detachedAttr()
	err = cmd.Start()
	specR.Close()
	repW.Close()
	if err != nil {
		specW.Close()
		return 0, fmt.Errorf("start the engine process: %w", err)
	}
	go cmd.Wait() // reaped if it ends while this console is there
	err = json.NewEncoder(specW).Encode(sp)
	specW.Close()
	if err != nil {
		return 0, fmt.Errorf("start the engine process: hand it the run: %w", err)
	}
	id, err := readReport(repR)
	if err != nil {
		return 0, usage(fmt.Errorf("%w\n(the engine's log: %s)", err, safetext.Line(sp.Log)))
	}
	return id, nil
}

// EngineFiles are the pipes a detached engine process reads its Spec from
// and reports on (see spawn).
func EngineFiles() (spec, report *os.File, err error) {
	spec, report = os.NewFile(3, "spec"), os.NewFile(4, "report")
	if spec == nil || report == nil {
		return nil, nil, errors.New("this command is started by repli run and resume, not by hand")
	}
	if _, err := spec.Stat(); err != nil {
		return nil, nil, errors.New("this command is started by repli run and resume, not by hand")
	}
	// Not inherited by the processes the engine starts (Litestream, a
	// runbook's commands): the console waits for this pipe's end.
	closeOnExec(3)
	closeOnExec(4)
	return spec, report, nil
}
