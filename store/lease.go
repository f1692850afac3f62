package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/repli-dr/repli/engine"
)

// LeaseStaleAfter is how long a lease may go without a heartbeat before it
// is stale and can be taken over.
const LeaseStaleAfter = 30 * time.Second

// LeaseHeartbeatEvery is how often a console driving a run should call
// (*Lease).Heartbeat: well inside LeaseStaleAfter, so that a slow disk or a
// busy lock does not make a live console look dead.
const LeaseHeartbeatEvery = 5 * time.Second

// KindLeaseTakeover is the kind of the event the store writes when a console
// takes over a stale lease. It is chained like the engine's events.
const KindLeaseTakeover = "lease.takeover"

// ErrLeaseLost is returned when a console writes, heartbeats or releases for
// a run whose lease it does not hold (any more): another console took it
// over, or it was never taken.
var ErrLeaseLost = errors.New("this console does not hold the run's lease")

// ErrRunEnded is returned for a lease on a run that has ended: there is
// nothing left to drive.
var ErrRunEnded = errors.New("the run has ended")

// Holder is who drives a run, and from where.
type Holder struct {
	Operator string `json:"operator"`
	// Host is the machine the console runs on. Empty means this machine.
	Host string `json:"host"`
	// PID is the console's process. Zero means this process.
	PID int `json:"pid"`
	// SSHClient is the address the operator connected from (the first field
	// of $SSH_CONNECTION), empty on a local terminal.
	SSHClient string `json:"ssh_client,omitempty"`
	// Console names the console: "tui", "plain", a tty.
	Console string `json:"console,omitempty"`
}

// LocalHolder describes this process as the holder of a lease.
func LocalHolder(operator, console string) Holder {
	host, _ := os.Hostname()
	var client string
	if f := strings.Fields(os.Getenv("SSH_CONNECTION")); len(f) > 0 {
		client = f[0]
	}
	return Holder{Operator: operator, Host: host, PID: os.Getpid(), SSHClient: client, Console: console}
}

func (h Holder) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s (pid %d", h.Operator, h.Host, h.PID)
	if f := strings.Fields(h.SSHClient); len(f) > 0 {
		fmt.Fprintf(&b, ", from %s", f[0])
	}
	if h.Console != "" {
		fmt.Fprintf(&b, ", console %s", h.Console)
	}
	b.WriteString(")")
	return b.String()
}

// Lease is a console's exclusive right to drive one run. Keep it alive with
// Heartbeat every LeaseHeartbeatEvery; Release it when the console stops
// driving the run.
type Lease struct {
	RunID  int64
	Holder Holder
	Since  time.Time

	s     *Store
	token string
}

// LeaseHeldError is returned when a run's lease is held by another console.
// When Stale is true its holder looks gone (Why says why) and TakeOverLease
// may take the lease, with a reason that goes into the audit trail.
type LeaseHeldError struct {
	RunID     int64
	Holder    Holder
	Since     time.Time
	Heartbeat time.Time
	// Age is how old the last heartbeat was when the lease was checked.
	Age   time.Duration
	Stale bool
	Why   string

	checked time.Time
}

func (e *LeaseHeldError) Error() string {
	verb := "is"
	if e.Stale {
		verb = "was"
	}
	layout := "15:04:05"
	if y, m, d := e.Since.Local().Date(); !e.checked.IsZero() {
		if y2, m2, d2 := e.checked.Local().Date(); y != y2 || m != m2 || d != d2 {
			layout = "2006-01-02 15:04:05"
		}
	}
	msg := fmt.Sprintf("run %d %s driven by %s since %s; last heartbeat %s ago",
		e.RunID, verb, e.Holder, e.Since.Local().Format(layout), max(e.Age, 0).Round(time.Second))
	if e.Stale {
		msg += fmt.Sprintf("; the lease is stale (%s) and can be taken over", e.Why)
	}
	return msg
}

// LeaseTakenOver is the event the store writes into the trail when a console
// takes over a stale lease: who had the run, why that lease was judged
// stale, who has it now and the reason they gave. Store.Events returns it
// among the engine's events; its sequence number is the run's next one, so a
// resumed engine must continue after it.
type LeaseTakenOver struct {
	engine.Meta
	From          Holder    `json:"from"`
	FromSince     time.Time `json:"from_since"`
	FromHeartbeat time.Time `json:"from_heartbeat"`
	Stale         string    `json:"stale"`
	To            Holder    `json:"to"`
	Reason        string    `json:"reason"`
}

// Kind is KindLeaseTakeover.
func (*LeaseTakenOver) Kind() string { return KindLeaseTakeover }

// AcquireLease makes h the one driver of a run. When another console holds
// the lease it fails with a *LeaseHeldError saying who, from where, since
// when, and whether that lease is stale. The check and the claim are one
// write transaction, so two consoles racing for a run cannot both win.
func (s *Store) AcquireLease(ctx context.Context, runID int64, h Holder) (*Lease, error) {
	return s.takeLease(ctx, runID, h, false, "")
}

// TakeOverLease takes a run's lease from a holder that is gone (see
// LeaseHeldError.Stale) and records the takeover, with reason, as a
// lease.takeover event in the run's trail, in the same transaction. A live
// holder's lease is not taken: the error is a *LeaseHeldError. A run with no
// lease is simply acquired, and nothing is recorded.
func (s *Store) TakeOverLease(ctx context.Context, runID int64, h Holder, reason string) (*Lease, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, fmt.Errorf("take over run %d: give a reason; it goes into the audit trail", runID)
	}
	return s.takeLease(ctx, runID, h, true, reason)
}

func (s *Store) takeLease(ctx context.Context, runID int64, h Holder, takeover bool, reason string) (*Lease, error) {
	if s.readOnly {
		return nil, fmt.Errorf("lease run %d: %w: %s was opened for review only", runID, ErrReadOnly, s.path)
	}
	if h.Host == "" {
		h.Host = s.hostname
	}
	if h.PID == 0 {
		h.PID = os.Getpid()
	}
	var procStart string
	if h.Host == s.hostname {
		procStart, _ = procIdentity(h.PID)
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	at := now.Format(timeFormat)

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("lease run %d: %w", runID, s.explain(err))
	}
	defer tx.Rollback()
	if err := runOpen(ctx, tx, runID, !takeover); err != nil {
		return nil, fmt.Errorf("lease run %d: %w", runID, s.explain(err))
	}
	cur, held, err := readLease(ctx, tx, runID)
	if err != nil {
		return nil, fmt.Errorf("lease run %d: %w", runID, s.explain(err))
	}
	if held {
		he := s.heldError(runID, cur, now)
		if !takeover || !he.Stale {
			return nil, he
		}
		if err := recordTakeover(ctx, tx, runID, at, cur, he, h, reason, now); err != nil {
			return nil, fmt.Errorf("take over run %d: %w", runID, s.explain(err))
		}
		_, err = tx.ExecContext(ctx, `UPDATE leases SET token = ?, operator = ?, host = ?, pid = ?, proc_start = ?, ssh_client = ?, console = ?, acquired_at = ?, heartbeat_at = ?
			WHERE run_id = ? AND token = ?`,
			token, h.Operator, h.Host, h.PID, procStart, h.SSHClient, h.Console, at, at, runID, cur.token)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO leases (run_id, token, operator, host, pid, proc_start, ssh_client, console, acquired_at, heartbeat_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			runID, token, h.Operator, h.Host, h.PID, procStart, h.SSHClient, h.Console, at, at)
	}
	if err != nil {
		return nil, fmt.Errorf("lease run %d: %w", runID, s.explain(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("lease run %d: %w", runID, s.explain(err))
	}
	s.mu.Lock()
	s.leases[runID] = token
	s.mu.Unlock()
	return &Lease{RunID: runID, Holder: h, Since: now, s: s, token: token}, nil
}

func recordTakeover(ctx context.Context, tx *sql.Tx, runID int64, at string, cur leaseRow, he *LeaseHeldError, to Holder, reason string, now time.Time) error {
	seq, err := lastSeq(ctx, tx, runID)
	if err != nil {
		return err
	}
	ev := &LeaseTakenOver{From: cur.Holder, FromSince: cur.since, FromHeartbeat: cur.heartbeat, Stale: he.Why, To: to, Reason: reason}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if _, _, err := appendTx(ctx, tx, runID, seq+1, at, KindLeaseTakeover, "", string(body)); err != nil {
		return fmt.Errorf("record takeover: %w", err)
	}
	return nil
}

// Heartbeat tells other consoles this one is still driving the run. It fails
// with ErrLeaseLost when the lease was taken over: the console must stop
// driving at once.
func (l *Lease) Heartbeat(ctx context.Context) error {
	at := l.s.now().UTC().Format(timeFormat)
	res, err := l.s.db.ExecContext(ctx, `UPDATE leases SET heartbeat_at = ? WHERE run_id = ? AND token = ?`, at, l.RunID, l.token)
	if err != nil {
		return fmt.Errorf("heartbeat of run %d's lease: %w", l.RunID, l.s.explain(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return l.lost(ctx)
	}
	return nil
}

// Release gives the run up, so that another console can acquire it without
// a takeover. Releasing twice is not an error; releasing a lease that was
// taken over is ErrLeaseLost.
func (l *Lease) Release(ctx context.Context) error {
	res, err := l.s.db.ExecContext(ctx, `DELETE FROM leases WHERE run_id = ? AND token = ?`, l.RunID, l.token)
	if err != nil {
		return fmt.Errorf("release run %d's lease: %w", l.RunID, l.s.explain(err))
	}
	l.s.mu.Lock()
	if l.s.leases[l.RunID] == l.token {
		delete(l.s.leases, l.RunID)
	}
	l.s.mu.Unlock()
	if n, _ := res.RowsAffected(); n == 0 {
		if cur, held, err := readLease(ctx, l.s.db, l.RunID); err == nil && held && cur.token != l.token {
			return fmt.Errorf("%w: %w", ErrLeaseLost, l.s.heldError(l.RunID, cur, l.s.now()))
		}
	}
	return nil
}

func (l *Lease) lost(ctx context.Context) error {
	cur, held, err := readLease(ctx, l.s.db, l.RunID)
	switch {
	case err != nil:
		return fmt.Errorf("%w (run %d): %w", ErrLeaseLost, l.RunID, l.s.explain(err))
	case held:
		return fmt.Errorf("%w: %w", ErrLeaseLost, l.s.heldError(l.RunID, cur, l.s.now()))
	}
	return fmt.Errorf("%w: run %d's lease was released", ErrLeaseLost, l.RunID)
}

// checkDriver refuses a write to a run whose lease another console holds. A
// run with no lease at all is written as before leases existed.
func (s *Store) checkDriver(ctx context.Context, q querier, runID int64) error {
	cur, held, err := readLease(ctx, q, runID)
	if err != nil || !held {
		return err
	}
	s.mu.Lock()
	mine := s.leases[runID]
	s.mu.Unlock()
	if cur.token == mine {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrLeaseLost, s.heldError(runID, cur, s.now()))
}

// runOpen checks that a run can be written: it exists and has not ended.
// A reservation whose run.started was never written (see CreateRun) counts
// only when reserved is true: the console that reserved it leases it before
// its first event; nobody else has anything to do with it.
func runOpen(ctx context.Context, q querier, runID int64, reserved bool) error {
	var ended sql.NullString
	var outcome string
	var started bool
	err := q.QueryRowContext(ctx, `SELECT ended_at, outcome, start_event_id IS NOT NULL FROM runs WHERE id = ?`, runID).Scan(&ended, &outcome, &started)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNoRun
	case err != nil:
		return err
	case !started && !reserved:
		return neverStarted(runID)
	case ended.Valid:
		return fmt.Errorf("%w (%s at %s)", ErrRunEnded, outcome, ended.String)
	}
	return nil
}

func neverStarted(runID int64) error {
	return fmt.Errorf("%w: %w: run %d was reserved, but its console stopped before the run's first event; nothing was done in it, so start the runbook again with repli run", ErrNoRun, ErrNeverStarted, runID)
}

type leaseRow struct {
	Holder
	token     string
	procStart string
	since     time.Time
	heartbeat time.Time
}

func readLease(ctx context.Context, q querier, runID int64) (leaseRow, bool, error) {
	var l leaseRow
	var since, beat string
	err := q.QueryRowContext(ctx, `SELECT token, operator, host, pid, proc_start, ssh_client, console, acquired_at, heartbeat_at FROM leases WHERE run_id = ?`, runID).
		Scan(&l.token, &l.Operator, &l.Host, &l.PID, &l.procStart, &l.SSHClient, &l.Console, &since, &beat)
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, nil
	}
	if err != nil {
		return l, false, fmt.Errorf("read lease: %w", err)
	}
	l.since, _ = time.Parse(timeFormat, since)
	l.heartbeat, _ = time.Parse(timeFormat, beat)
	return l, true, nil
}

func (s *Store) heldError(runID int64, l leaseRow, now time.Time) *LeaseHeldError {
	stale, why := s.judge(l, now)
	return &LeaseHeldError{
		RunID: runID, Holder: l.Holder, Since: l.since, Heartbeat: l.heartbeat,
		Age: now.Sub(l.heartbeat), Stale: stale, Why: why, checked: now,
	}
}

// judge decides whether a lease's holder is gone. On the holder's own host
// its process is looked up: gone, a zombie, or a different process under the
// same pid (boot id and start time differ) all mean the holder is dead. On
// any host, a heartbeat older than the staleness window means it is hung or
// cut off. Heartbeats are compared with this machine's clock.
func (s *Store) judge(l leaseRow, now time.Time) (bool, string) {
	if l.Host == s.hostname && l.PID > 0 && procAvailable() {
		state, id, err := procStat(l.PID)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return true, fmt.Sprintf("process %d on %s no longer exists", l.PID, l.Host)
		case err != nil:
			// Unreadable: fall back to the heartbeat.
		case state == 'Z' || state == 'X':
			return true, fmt.Sprintf("process %d on %s has exited", l.PID, l.Host)
		case l.procStart != "" && id != l.procStart:
			return true, fmt.Sprintf("pid %d on %s now belongs to another process", l.PID, l.Host)
		}
	}
	if age := now.Sub(l.heartbeat); age > s.staleAfter {
		return true, fmt.Sprintf("no heartbeat for %s", age.Round(time.Second))
	}
	return false, ""
}

var procAvailable = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
})

var bootID = sync.OnceValue(func() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return string(bytes.TrimSpace(b))
})

// procStat reads a process's state letter and an identity that differs for
// two processes that had the same pid: the boot id and the process's start
// time in clock ticks since boot.
func procStat(pid int) (state byte, identity string, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", err
	}
	// "pid (comm) S ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return f[0][0], bootID() + "/" + f[19], nil
}

func procIdentity(pid int) (string, error) {
	_, id, err := procStat(pid)
	return id, err
}

func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make lease token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Session implements engine.SessionEvent: a takeover hands the run to
// another console.
func (e *LeaseTakenOver) Session() engine.Session {
	return engine.Session{At: e.At, How: "took over", Operator: e.To.Operator, Host: e.To.Host, SSHClient: e.To.SSHClient, Reason: e.Reason}
}
