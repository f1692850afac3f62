package crashcampaign

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LockCase is one held-write-lock run.
type LockCase struct {
	Hold      time.Duration
	DB        string
	FirstExit int    // exit status of the console that ran under the lock
	Resumes   int    // consoles needed after it
	Outcome   string // the run's recorded outcome
	Reason    string
	NoOutcome []string // intents with no outcome once the run ended
	Problems  []string
}

// LockResult is the held-write-lock scenario (issue 9, item 1).
type LockResult struct{ Cases []*LockCase }

// Clean reports whether every case ended succeeded with every action
// closed, its first console having exited 0 or 3 (stopped, resumable).
func (r *LockResult) Clean() bool {
	for _, c := range r.Cases {
		if len(c.Problems) > 0 {
			return false
		}
	}
	return true
}

// Print writes the scenario's figures.
func (r *LockResult) Print(w io.Writer) {
	fmt.Fprintf(w, "held write lock, 20 starts in flight (testdata/crash/lock-20.yaml)\n")
	fmt.Fprintf(w, "%-6s %10s %7s %10s %10s\n", "hold", "first-exit", "resumes", "outcome", "no-outcome")
	for _, c := range r.Cases {
		fmt.Fprintf(w, "%-6s %10d %7d %10s %10d\n", c.Hold, c.FirstExit, c.Resumes, c.Outcome, len(c.NoOutcome))
		for _, p := range c.Problems {
			fmt.Fprintln(w, "  ✗", p)
		}
	}
}

// HeldLock runs lock-20.yaml on slow simulated sites and, once its 20 start
// intents are written (the starts are in flight), holds the audit
// database's write lock from another connection for each of holds (default
// 7 s). Then the run must end succeeded, directly or through resume, with
// every action closed: an outcome that could not be written is retried,
// then the console stops resumable (exit 3) and resume reconciles.
func HeldLock(ctx context.Context, cfg Config, holds ...time.Duration) (*LockResult, error) {
	if len(holds) == 0 {
		holds = []time.Duration{7 * time.Second}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Minute
	}
	res := &LockResult{}
	c := &campaign{cfg: cfg}
	for i, hold := range holds {
		lc := &LockCase{Hold: hold}
		res.Cases = append(res.Cases, lc)
		dir := filepath.Join(cfg.Dir, fmt.Sprintf("held-lock-%d-%s", i+1, hold))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("make the scenario's directory: %w", err)
		}
		lc.DB = filepath.Join(dir, "audit.db")
		if err := c.heldLock(ctx, lc); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (c *campaign) heldLock(ctx context.Context, lc *LockCase) error {
	bad := func(format string, args ...any) {
		lc.Problems = append(lc.Problems, fmt.Sprintf(format, args...)+" ("+lc.DB+")")
	}
	// Starts take 2–6 s on these sites: the lock lands while they run.
	p := c.start(ctx, []string{"run", filepath.Join(c.cfg.Root, "testdata/crash/lock-20.yaml"),
		"--auto-approve", "--plain", "--db", lc.DB, "--speed", "0.5"}, nil)
	var t *trail
	for t == nil {
		select {
		case <-p.done:
			r := p.wait(0)
			return fmt.Errorf("lock-20 ended before its starts were in flight: exit %d: %s", r.code, tailOf(r.out, 400))
		case <-time.After(5 * time.Millisecond):
		}
		t, _ = openTrailIfExists(lc.DB)
	}
	defer t.Close()
	for {
		var n int
		_ = t.db.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE kind = 'action.intent'`).Scan(&n)
		if n >= 20 {
			break
		}
		select {
		case <-p.done:
			r := p.wait(0)
			return fmt.Errorf("lock-20 ended before its 20 starts were in flight: exit %d: %s", r.code, tailOf(r.out, 400))
		case <-ctx.Done():
			p.kill()
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	// Another process's write lock: an open IMMEDIATE transaction.
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("take a connection to hold the lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		conn.Close()
		return fmt.Errorf("take the write lock: %w", err)
	}
	time.Sleep(lc.Hold)
	_, _ = conn.ExecContext(ctx, `ROLLBACK`)
	conn.Close()

	r := p.wait(c.cfg.Timeout)
	lc.FirstExit = r.code
	if r.code != 0 && r.code != 3 {
		bad("the console under the lock exited %d (want 0, or 3 stopped resumable): %s", r.code, tailOf(r.out, 400))
	}
	run := t.startedRun(ctx)
	if run == 0 {
		bad("no run.started in the trail")
		return nil
	}
	for lc.Outcome, lc.Reason = t.ended(ctx, run); lc.Outcome == "" && lc.Resumes < 5; lc.Outcome, lc.Reason = t.ended(ctx, run) {
		lc.Resumes++
		rr := c.start(ctx, []string{"resume", strconv.FormatInt(run, 10), "--take-over", "crash campaign", "--auto-approve", "--plain", "--db", lc.DB}, nil).wait(c.cfg.Timeout)
		if rr.code == 2 {
			bad("resume refused (exit 2): %s", tailOf(rr.out, 400))
		}
	}
	if lc.Outcome != "succeeded" {
		bad("run %d ended %q: %s", run, lc.Outcome, lc.Reason)
	}
	if strings.Contains(lc.Reason, "deadline") || strings.Contains(lc.Reason, "locked") || strings.Contains(lc.Reason, "busy") {
		bad("run %d closed because of the trail: %s", run, lc.Reason)
	}
	evs, err := t.events(ctx, run)
	if err != nil {
		return err
	}
	f := checkEvents(evs)
	lc.NoOutcome = f.Unclosed
	for _, s := range f.Unclosed {
		bad("%s", s)
	}
	if f.Gaps > 0 {
		bad("%d sequence number(s) missing", f.Gaps)
	}
	return nil
}
