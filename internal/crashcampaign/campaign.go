// Package crashcampaign kills repli at random moments and resumes it until
// its runs end, then counts from the trail and the world what a crash must
// never cost: events lost, actions without outcome, commands run twice,
// resumes refused. It drives the real binary (bin/repli) on simulated sites,
// the way an operator's console dies (SIGKILL) and is picked up again
// (repli resume --take-over).
//
// It is a Go package rather than a shell script because the same campaign
// runs in two places: in full from scripts/crash-campaign.sh (go run
// ./internal/crashcampaign/cmd/crash-campaign) and shortened in make test
// (cmd/repli/crash_campaign_test.go); and because killing after the Nth
// event needs the trail polled every few milliseconds, and answering a
// command in doubt needs the console's prompts read as they come.
package crashcampaign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Runbook is one runbook the campaign runs, with the arguments that make
// its commands observable and keep its files in the cycle's directory.
type Runbook struct {
	Name string
	// Args returns the runbook argument and its extra flags for a cycle
	// whose private directory is dir and whose counter file is counter.
	Args func(root, dir, counter string) []string
}

// Bundled is the campaign's default set: every bundled runbook, on
// simulated sites, its exec commands counted by testdata/crash/count.sh,
// and the campaign's own runbook with a command between every action.
func Bundled() []Runbook {
	count := func(root, counter, step string, cmd ...string) string {
		return strings.Join(append([]string{"sh", filepath.Join(root, "testdata/crash/count.sh"), counter, step}, cmd...), ",")
	}
	return []Runbook{
		{Name: "annual-pra-test", Args: func(root, dir, counter string) []string {
			return []string{"annual-pra-test", "--var", "replication_command=" + count(root, counter, "final-sync")}
		}},
		{Name: "disaster-failover", Args: func(root, dir, counter string) []string {
			return []string{"disaster-failover", "--mode", "disaster"}
		}},
		{Name: "failback", Args: func(root, dir, counter string) []string {
			return []string{"failback", "--var", "replication_command=" + count(root, counter, "sync-back")}
		}},
		{Name: "hybrid-restore", Args: func(root, dir, counter string) []string {
			b := filepath.Join(dir, "backup")
			return []string{"hybrid-restore",
				"--var", "backup_dir=" + b, "--var", "key_file=" + filepath.Join(b, "demo-key.txt"),
				"--var", "receive_command=" + count(root, counter, "receive", "sh", filepath.Join(root, "testdata/hybrid/make-demo-backup.sh"))}
		}},
		{Name: "single-vm-recovery", Args: func(root, dir, counter string) []string {
			return []string{"single-vm-recovery"}
		}},
		{Name: "lab-switchover", Args: func(root, dir, counter string) []string {
			return []string{"lab-switchover", "--site", "primary=sim://primary", "--site", "secondary=sim://secondary"}
		}},
		{Name: "crash-exec", Args: func(root, dir, counter string) []string {
			return []string{filepath.Join(root, "testdata/crash/crash-exec.yaml"),
				"--var", "counter=" + counter, "--var", "count=" + filepath.Join(root, "testdata/crash/count.sh")}
		}},
	}
}

// Config is a campaign.
type Config struct {
	Bin      string // the repli binary
	Root     string // the repository's root (runbooks and scripts are found there)
	Dir      string // private working directory: one subdirectory per cycle
	Cycles   int
	Seed     uint64
	Speed    float64 // simulated sites' --speed
	Runbooks []Runbook
	Log      io.Writer     // one line per cycle; nil for none
	Timeout  time.Duration // per process; a console that runs longer is a hang
}

// Row is the figures of one runbook, or of the whole campaign.
type Row struct {
	Runbook       string
	Cycles        int
	Kills         int
	Resumes       int
	EventsLost    int // sequence gaps, and executions with no intent in the trail
	NoOutcome     int // intents with neither outcome nor reconciliation nor decision
	RunTwice      int // a command repeated with no retry chosen, or run to its end twice, or beside itself
	Refusals      int // resume exiting 2 on a run that had not ended
	NotSucceeded  int // runs that did not end succeeded
	VerifyFailed  int // repli verify did not exit 0
	DoubtsDecided int // commands in doubt the operator (the campaign) decided on
}

// Figures is a campaign's result.
type Figures struct {
	Rows     []*Row
	Total    Row
	Problems []string // one line per finding, with its cycle and database
}

// Clean reports whether every figure that must be zero is.
func (f *Figures) Clean() bool {
	t := f.Total
	return t.EventsLost == 0 && t.NoOutcome == 0 && t.RunTwice == 0 && t.Refusals == 0 && t.NotSucceeded == 0 && t.VerifyFailed == 0
}

// Table prints the figures.
func (f *Figures) Table(w io.Writer) {
	fmt.Fprintf(w, "%-20s %6s %5s %7s %6s %10s %9s %8s %13s %8s %7s\n",
		"runbook", "cycles", "kills", "resumes", "events", "no-outcome", "run-twice", "refusals", "not-succeeded", "verify-x", "doubts")
	fmt.Fprintf(w, "%-20s %6s %5s %7s %6s %10s %9s %8s %13s %8s %7s\n", "", "", "", "", "lost", "", "", "", "", "", "decided")
	line := func(r *Row) {
		fmt.Fprintf(w, "%-20s %6d %5d %7d %6d %10d %9d %8d %13d %8d %7d\n",
			r.Runbook, r.Cycles, r.Kills, r.Resumes, r.EventsLost, r.NoOutcome, r.RunTwice, r.Refusals, r.NotSucceeded, r.VerifyFailed, r.DoubtsDecided)
	}
	for _, r := range f.Rows {
		line(r)
	}
	t := f.Total
	t.Runbook = "total"
	line(&t)
	for _, p := range f.Problems {
		fmt.Fprintln(w, "  ✗", p)
	}
}

// estimate is what a clean run of a runbook looks like.
type estimate struct {
	events int
	took   time.Duration
	ends   int // counted commands run to their end
}

type campaign struct {
	cfg  Config
	rnd  *rand.Rand
	est  map[string]estimate
	figs *Figures
}

// Run runs the campaign. An error means the campaign itself could not run
// (no binary, a runbook that does not finish when left alone); what the
// crashes cost is in the Figures.
func Run(ctx context.Context, cfg Config) (*Figures, error) {
	if cfg.Cycles <= 0 {
		cfg.Cycles = 100
	}
	if cfg.Speed == 0 {
		cfg.Speed = 10
	}
	if cfg.Runbooks == nil {
		cfg.Runbooks = Bundled()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	c := &campaign{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), est: map[string]estimate{}, figs: &Figures{}}
	rows := map[string]*Row{}
	for _, rb := range cfg.Runbooks {
		est, err := c.calibrate(ctx, rb)
		if err != nil {
			return nil, err
		}
		c.est[rb.Name] = est
		fmt.Fprintf(cfg.Log, "calibrated %s: %d events in %s\n", rb.Name, est.events, est.took.Round(time.Millisecond))
		r := &Row{Runbook: rb.Name}
		rows[rb.Name] = r
		c.figs.Rows = append(c.figs.Rows, r)
	}
	for i := range cfg.Cycles {
		if err := ctx.Err(); err != nil {
			return c.figs, err
		}
		rb := cfg.Runbooks[i%len(cfg.Runbooks)]
		r := rows[rb.Name]
		before := *r
		c.cycle(ctx, i+1, rb, r)
		fmt.Fprintf(cfg.Log, "cycle %3d %-20s kills %d resumes %d%s\n", i+1, rb.Name, r.Kills-before.Kills, r.Resumes-before.Resumes, c.lastProblem(len(c.figs.Problems), before, *r))
	}
	for _, r := range c.figs.Rows {
		t := &c.figs.Total
		t.Cycles += r.Cycles
		t.Kills += r.Kills
		t.Resumes += r.Resumes
		t.EventsLost += r.EventsLost
		t.NoOutcome += r.NoOutcome
		t.RunTwice += r.RunTwice
		t.Refusals += r.Refusals
		t.NotSucceeded += r.NotSucceeded
		t.VerifyFailed += r.VerifyFailed
		t.DoubtsDecided += r.DoubtsDecided
	}
	return c.figs, nil
}

func (c *campaign) lastProblem(n int, before, after Row) string {
	before.Cycles, before.Kills, before.Resumes, before.DoubtsDecided = after.Cycles, after.Kills, after.Resumes, after.DoubtsDecided
	if before == after || n == 0 {
		return ""
	}
	return " ✗ " + c.figs.Problems[n-1]
}

// problem records a finding on one line (a console's output is folded).
func (c *campaign) problem(format string, args ...any) {
	c.figs.Problems = append(c.figs.Problems, strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " "))
}

// calibrate runs the runbook once, unharmed: how many events and how long.
func (c *campaign) calibrate(ctx context.Context, rb Runbook) (estimate, error) {
	dir := filepath.Join(c.cfg.Dir, "calibrate-"+rb.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return estimate{}, fmt.Errorf("make the campaign's directory: %w", err)
	}
	db := filepath.Join(dir, "audit.db")
	start := time.Now()
	p := c.start(ctx, c.runArgs(rb, dir, db), nil)
	res := p.wait(c.cfg.Timeout)
	if res.code != 0 {
		return estimate{}, fmt.Errorf("run %s unharmed: exit %d (want 0): %s", rb.Name, res.code, tailOf(res.out, 600))
	}
	t, err := openTrail(db)
	if err != nil {
		return estimate{}, err
	}
	defer t.Close()
	execs, err := readCounter(filepath.Join(dir, "counter"))
	if err != nil {
		return estimate{}, err
	}
	return estimate{events: t.count(ctx), took: time.Since(start), ends: len(execs)}, nil
}

func (c *campaign) runArgs(rb Runbook, dir, db string) []string {
	a := append([]string{"run"}, rb.Args(c.cfg.Root, dir, filepath.Join(dir, "counter"))...)
	return append(a, "--auto-approve", "--plain", "--db", db, "--speed", strconv.FormatFloat(c.cfg.Speed, 'g', -1, 64))
}

// proc is one console.
type proc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	op   *operator
	done chan struct{}
	err  error
}

type result struct {
	code   int
	killed bool
	hung   bool
	out    string
}

func (c *campaign) start(ctx context.Context, args []string, op *operator) *proc {
	p := &proc{out: &bytes.Buffer{}, done: make(chan struct{}), op: op}
	p.cmd = exec.Command(c.cfg.Bin, args...)
	p.cmd.Dir = c.cfg.Root
	p.cmd.Env = append(os.Environ(), "NO_COLOR=1", "REPLI_DB=")
	if op != nil {
		stdin, err := p.cmd.StdinPipe()
		if err != nil {
			p.err = err
			close(p.done)
			return p
		}
		op.in = stdin
		p.cmd.Stdout, p.cmd.Stderr = op, op
	} else {
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	}
	if err := p.cmd.Start(); err != nil {
		p.err = err
		close(p.done)
		return p
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// kill is the crash: SIGKILL of the console alone, as when its machine or
// its SSH session's process is killed.
func (p *proc) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
}

func (p *proc) wait(timeout time.Duration) result {
	r := result{code: -1}
	select {
	case <-p.done:
	case <-time.After(timeout):
		r.hung = true
		p.kill()
		<-p.done
	}
	// Killed is what the process died of, not whether a kill was sent: a
	// console that had already exited keeps its own exit status.
	if ps := p.cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killed = true
		}
	}
	if p.op != nil {
		r.out = p.op.output()
	} else {
		r.out = p.out.String()
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		r.code = 0
	case errors.As(p.err, &ee):
		r.code = ee.ExitCode()
	default:
		r.out += "\n" + p.err.Error()
	}
	return r
}

// killer kills p after the trail holds `after` events, or after `delay`
// when after is 0. It returns when p ends.
func (c *campaign) killer(ctx context.Context, p *proc, db string, after int, delay time.Duration) {
	if after == 0 {
		select {
		case <-p.done:
		case <-time.After(delay):
			p.kill()
		}
		return
	}
	var t *trail
	defer func() {
		if t != nil {
			t.Close()
		}
	}()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-ctx.Done():
			p.kill()
			return
		case <-tick.C:
		}
		if t == nil {
			if _, err := os.Stat(db); err != nil {
				continue
			}
			var err error
			if t, err = openTrail(db); err != nil {
				t = nil
				continue
			}
		}
		if t.count(ctx) >= after {
			p.kill()
			return
		}
	}
}

// cycle runs one runbook to its end through kills and resumes, then checks
// what it cost.
func (c *campaign) cycle(ctx context.Context, n int, rb Runbook, row *Row) {
	row.Cycles++
	dir := filepath.Join(c.cfg.Dir, fmt.Sprintf("cycle-%03d-%s", n, rb.Name))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.problem("cycle %d: %v", n, err)
		return
	}
	db := filepath.Join(dir, "audit.db")
	counter := filepath.Join(dir, "counter")
	est := c.est[rb.Name]
	where := fmt.Sprintf("cycle %d (%s, %s)", n, rb.Name, db)
	var run int64
	var refused bool
	var log strings.Builder
	for attempt := 0; ; attempt++ {
		if attempt == 40 {
			c.problem("%s: run %d did not end after %d consoles", where, run, attempt)
			row.NotSucceeded++
			break
		}
		t, _ := openTrailIfExists(db)
		if run != 0 {
			row.Resumes++
		}
		args, op := c.consoleArgs(ctx, t, rb, dir, db, counter, run, refused)
		base := 0
		if t != nil {
			base = t.count(ctx)
			t.Close()
		}
		p := c.start(ctx, args, op)
		// The first console is always killed; a resumed one half the time.
		if attempt == 0 || c.rnd.IntN(2) == 0 {
			c.scheduleKill(ctx, p, db, counter, base, est)
		}
		res := p.wait(c.cfg.Timeout)
		if res.killed && !res.hung {
			row.Kills++
		}
		fmt.Fprintf(&log, "$ repli %s → exit %d killed=%v\n%s\n", strings.Join(args, " "), res.code, res.killed, tailOf(res.out, 2000))
		if res.hung {
			c.problem("%s: a console ran longer than %s: %s", where, c.cfg.Timeout, tailOf(res.out, 300))
		}
		t, _ = openTrailIfExists(db)
		if t == nil {
			continue // killed before the database existed: start again
		}
		run = t.startedRun(ctx)
		outcome, reason := "", ""
		if run != 0 {
			outcome, reason = t.ended(ctx, run)
		}
		t.Close()
		if outcome != "" {
			if outcome != "succeeded" {
				row.NotSucceeded++
				c.problem("%s: run %d ended %s: %s", where, run, outcome, reason)
			}
			break
		}
		if res.killed {
			continue
		}
		switch {
		case args[0] == "resume" && res.code == 2:
			row.Refusals++
			refused = true
			c.problem("%s: resume of run %d refused (exit 2): %s", where, run, tailOf(res.out, 300))
		case res.code == 3:
			// Stopped resumable: what a console does when its trail is busy.
		default:
			c.problem("%s: %s exited %d but run %d has not ended: %s", where, args[0], res.code, run, tailOf(res.out, 300))
		}
	}
	_ = os.WriteFile(filepath.Join(dir, "consoles.log"), []byte(log.String()), 0o600)
	c.check(ctx, where, db, counter, row)
}

// consoleArgs are the arguments of the next console of a cycle: the run
// at first, then a resume, answered by --auto-approve or, with a command
// in doubt, by the campaign as the person who knows whether it ran.
func (c *campaign) consoleArgs(ctx context.Context, t *trail, rb Runbook, dir, db, counter string, run int64, refused bool) ([]string, *operator) {
	if run == 0 {
		return c.runArgs(rb, dir, db), nil
	}
	args := []string{"resume", strconv.FormatInt(run, 10), "--take-over", "crash campaign", "--plain", "--db", db}
	if refused {
		// Counted already; carry on to learn what else the crash cost.
		args = append(args, "--force-unready", "crash campaign: resume was refused")
	}
	evs, _ := t.events(ctx, run)
	if step := pendingDoubt(evs); step != "" {
		// --auto-approve aborts a run with a command in doubt (only a
		// person can say whether it ran): be that person.
		op := &operator{}
		op.decide = c.decider(ctx, db, run, counter)
		return args, op
	}
	return append(args, "--auto-approve"), nil
}

// scheduleKill kills the console at a random moment: after a number of
// events, after a delay, or right after a command ended (its outcome, or
// the step's end, may not be written yet: issue 9, item 2).
func (c *campaign) scheduleKill(ctx context.Context, p *proc, db, counter string, base int, est estimate) {
	switch k := c.rnd.IntN(6); {
	case k < 3:
		go c.killer(ctx, p, db, base+1+c.rnd.IntN(max(1, est.events-base)), 0)
	case k < 5 || est.ends == 0:
		go c.killer(ctx, p, db, 0, time.Duration(c.rnd.Int64N(int64(est.took)+1)))
	default:
		execs, _ := readCounter(counter)
		go killAfterEnd(p, counter, ended(execs)+1+c.rnd.IntN(est.ends))
	}
}

func openTrailIfExists(db string) (*trail, error) {
	if _, err := os.Stat(db); err != nil {
		return nil, err
	}
	return openTrail(db)
}

// decider answers a failure prompt of a resumed run: a command in doubt is
// marked done when the counter file says it ran to its end, re-run when it
// did not (and repli offers that: it does not while the first copy runs),
// and anything else aborts, as --auto-approve would.
func (c *campaign) decider(ctx context.Context, db string, run int64, counter string) func(string) string {
	return func(prompt string) string {
		t, err := openTrailIfExists(db)
		if err != nil {
			return "a"
		}
		defer t.Close()
		var step, body string
		_ = t.db.QueryRowContext(ctx, `SELECT step, body FROM events WHERE run_id = ? AND kind = 'failure.opened' ORDER BY id DESC LIMIT 1`, run).Scan(&step, &body)
		if !strings.Contains(body, "console stopped") {
			return "a"
		}
		// Wait (a while) for a copy still running to end, as the prompt asks.
		for i := 0; i < 300; i++ {
			execs, _ := readCounter(counter)
			var last *execution
			for _, x := range execs {
				if x.Step == step {
					last = x
				}
			}
			switch {
			case last != nil && last.Ended:
				return "m"
			case last == nil && strings.Contains(prompt, "r retry"):
				return "r" // an uncounted command, or one killed before it began
			case last != nil && strings.Contains(prompt, "r retry") && !pidAlive(last.PID):
				return "r"
			}
			time.Sleep(100 * time.Millisecond)
		}
		return "a"
	}
}

func pidAlive(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil {
		return false
	}
	return syscall.Kill(n, 0) == nil
}

// check counts what the cycle's crashes cost, from the trail and the world.
func (c *campaign) check(ctx context.Context, where, db, counter string, row *Row) {
	out, err := exec.CommandContext(ctx, c.cfg.Bin, "verify", "--db", db).CombinedOutput()
	if err != nil {
		row.VerifyFailed++
		c.problem("%s: repli verify: %v: %s", where, err, tailOf(string(out), 300))
	}
	t, err := openTrailIfExists(db)
	if err != nil {
		c.problem("%s: no trail: %v", where, err)
		return
	}
	defer t.Close()
	var runs []int64
	rows, err := t.db.QueryContext(ctx, `SELECT DISTINCT run_id FROM events WHERE kind = 'run.started' ORDER BY run_id`)
	if err == nil {
		for rows.Next() {
			var id int64
			_ = rows.Scan(&id)
			runs = append(runs, id)
		}
		rows.Close()
	}
	if len(runs) != 1 {
		c.problem("%s: %d runs started (want 1: a killed run is resumed, not started again)", where, len(runs))
	}
	intents := map[string]int{}
	for _, run := range runs {
		evs, err := t.events(ctx, run)
		if err != nil {
			c.problem("%s: %v", where, err)
			continue
		}
		f := checkEvents(evs)
		row.EventsLost += f.Gaps
		if f.Gaps > 0 {
			c.problem("%s: run %d: %d sequence number(s) missing", where, run, f.Gaps)
		}
		row.NoOutcome += len(f.Unclosed)
		row.RunTwice += len(f.Twice)
		row.DoubtsDecided += f.DoubtsDecided
		for _, s := range append(f.Unclosed, f.Twice...) {
			c.problem("%s: run %d: %s", where, run, s)
		}
		for k, v := range f.Intents {
			intents[k] += v
		}
		if t.countKind(ctx, run, "run.ended") > 1 {
			c.problem("%s: run %d has %d run.ended events", where, run, t.countKind(ctx, run, "run.ended"))
		}
	}
	execs, err := readCounter(counter)
	if err != nil {
		c.problem("%s: %v", where, err)
	}
	twice, unrecorded := counterFindings(execs, intents)
	sort.Strings(twice)
	sort.Strings(unrecorded)
	row.RunTwice += len(twice)
	row.EventsLost += len(unrecorded)
	for _, s := range append(twice, unrecorded...) {
		c.problem("%s: counter: %s", where, s)
	}
}

func tailOf(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

func ended(execs []*execution) int {
	n := 0
	for _, x := range execs {
		if x.Ended {
			n++
		}
	}
	return n
}

// killAfterEnd kills p as soon as the counter file holds n ended commands.
func killAfterEnd(p *proc, counter string, n int) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		if b, err := os.ReadFile(counter); err == nil && bytes.Count(b, []byte("\nend "))+boolInt(bytes.HasPrefix(b, []byte("end "))) >= n {
			p.kill()
			return
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
