package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Lag is how far the replica stands behind the trail, as Litestream counts:
// in LTX transaction ids. One Litestream transaction is a batch: every
// commit of the trail since Litestream last looked (at most a second, or
// when asked), so a count of them is not a count of events.
type Lag struct {
	// At is when this was measured; zero if never.
	At time.Time
	// Running is whether the litestream process was up.
	Running bool
	// LocalTXID is the trail's last Litestream transaction, ReplicaTXID
	// the last one the replica holds.
	LocalTXID, ReplicaTXID uint64
	// CaughtUp: at At, the replica held every transaction committed before.
	CaughtUp bool
	// Confirmed is the last time the replica was seen caught up; zero if
	// never. At minus Confirmed bounds what the other site could miss.
	Confirmed time.Time
	// Problem is why the replica is not known to be caught up, if it is
	// known (litestream down, the other site unreachable); for people.
	Problem string
}

// Behind is how many transactions the replica lacks, as last measured.
func (l Lag) Behind() uint64 {
	if l.LocalTXID > l.ReplicaTXID {
		return l.LocalTXID - l.ReplicaTXID
	}
	return 0
}

// Age is how long since the replica was last seen caught up, as of At;
// -1 if it never was.
func (l Lag) Age() time.Duration {
	if l.Confirmed.IsZero() {
		return -1
	}
	return l.At.Sub(l.Confirmed)
}

// String says where the replica stands, in a few words for a status line.
func (l Lag) String() string {
	switch {
	case l.At.IsZero():
		return "replica not measured yet"
	case l.CaughtUp:
		return fmt.Sprintf("replica in step (txid %d)", l.ReplicaTXID)
	}
	var b strings.Builder
	switch {
	case !l.Running:
		b.WriteString("replica down")
	case l.Behind() > 0:
		fmt.Fprintf(&b, "replica behind by %d Litestream transaction(s)", l.Behind())
	default:
		b.WriteString("replica not confirmed")
	}
	if l.Problem != "" {
		b.WriteString(" (" + l.Problem + ")")
	}
	if a := l.Age(); a >= 0 {
		fmt.Fprintf(&b, "; last in step %s ago", a.Round(time.Second))
	} else {
		b.WriteString("; never in step")
	}
	return b.String()
}

// Short is the lag in a status bar's few cells, glyph and word (never
// colour alone): "replica ✓ in step", "replica ⚠ behind 12s",
// "replica ✗ down 12s" (the time since it was last in step).
func (l Lag) Short() string {
	since := "never in step"
	if a := l.Age(); a >= 0 {
		since = a.Round(time.Second).String()
	}
	switch {
	case l.At.IsZero():
		return "replica … not measured"
	case l.CaughtUp:
		return "replica ✓ in step"
	case !l.Running:
		return "replica ✗ down " + since
	default:
		return "replica ⚠ behind " + since
	}
}

// Sidecar is a litestream process replicating one trail, supervised: it is
// started again, with backoff, when it dies, and stopped by Close. It also
// dies with its parent (SIGTERM on the parent's death, Linux).
type Sidecar struct {
	dbPath, url string
	o           Options
	bin         string
	dir         string // private: config and control socket
	config      string
	socket      string
	log         *os.File
	client      *http.Client
	lock        *os.File // held while this sidecar ships the trail
	// attached: another console's Litestream ships this trail; this
	// sidecar only measures, through that one's control socket.
	attached *holder

	stop     chan struct{}
	kick     chan struct{}
	done     chan struct{} // closed when supervise has returned
	polling  sync.WaitGroup
	stopOnce sync.Once

	mu        sync.Mutex
	child     *child // nil while down
	starts    int
	lastExit  string
	downSince time.Time
	retryAt   time.Time
	last      Lag
	confirmed time.Time
}

// child is one litestream process.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // set before exited is closed
}

// Start starts replicating the trail at dbPath to replicaURL and returns
// once Litestream is up (its control socket answers); a configuration
// Litestream refuses is an error here, with its words. ctx bounds the
// start only: the sidecar runs until Close.
//
// One Litestream ships a trail: when another console (a second run on the
// same trail) already replicates it to the same URL, the Sidecar returned
// attaches to that one and measures through it; to another URL, Start
// fails with ErrOtherReplica.
//
// The trail must exist and be a repli trail (store.Open) before Start:
// Litestream adds two tables of its own to the file (_litestream_seq,
// _litestream_lock), which a fresh file must not have before repli's schema.
func Start(ctx context.Context, dbPath, replicaURL string, o Options) (*Sidecar, error) {
	o = o.withDefaults()
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		return nil, fmt.Errorf("start the replica: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("start the replica: the trail must exist first: %w", err)
	}
	t, err := resolve(replicaURL, o)
	if err != nil {
		return nil, err
	}
	bin := o.Binary
	if bin == "" {
		if bin, err = FindBinary(); err != nil {
			return nil, err
		}
	}
	if o.LogPath == "" {
		o.LogPath = abs + ".litestream.log"
	}
	dir, err := privateDir()
	if err != nil {
		return nil, err
	}
	s := &Sidecar{
		dbPath: abs, url: replicaURL, o: o, bin: bin, dir: dir,
		config: filepath.Join(dir, "litestream.yml"),
		socket: filepath.Join(dir, "control.sock"),
		stop:   make(chan struct{}), kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
	fail := func(err error) (*Sidecar, error) {
		if s.log != nil {
			s.log.Close()
		}
		if s.lock != nil {
			s.lock.Close()
		}
		os.RemoveAll(dir)
		return nil, err
	}
	s.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", s.socket)
		},
		DisableKeepAlives: true,
	}}
	lock, other, err := claim(abs+".litestream.lock", holder{PID: os.Getpid(), Socket: s.socket, URL: Redact(replicaURL)})
	switch {
	case err != nil:
		return fail(err)
	case other != nil && other.URL != Redact(replicaURL):
		return fail(fmt.Errorf("%w: console pid %d replicates it to %s, not %s; one replica per trail", ErrOtherReplica, other.PID, other.URL, Redact(replicaURL)))
	case other != nil:
		os.RemoveAll(dir)
		s.dir, s.config, s.socket, s.attached = "", "", other.Socket, other
		close(s.done)
		s.polling.Add(1)
		go s.poll()
		return s, nil
	}
	s.lock = lock
	if err := writeConfig(s.config, abs, t, s.socket, o); err != nil {
		return fail(err)
	}
	if s.log, err = os.OpenFile(o.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		return fail(fmt.Errorf("open the litestream log: %w", err))
	}

	ready := make(chan error, 1)
	go s.supervise(ctx, ready)
	if err := <-ready; err != nil {
		return fail(fmt.Errorf("start litestream for %s: %w (its log: %s)", Redact(replicaURL), err, o.LogPath))
	}
	s.polling.Add(1)
	go s.poll()
	return s, nil
}

// launch starts one litestream process. It gets its own process group, so
// that a Ctrl-C at the console reaches repli, which stops it in order, and
// SIGTERM if repli dies, so that it never outlives its parent.
func (s *Sidecar) launch() (*child, error) {
	os.Remove(s.socket) // a dead child's socket; Litestream would remove it too
	cmd := exec.Command(s.bin, "replicate", "-config", s.config, "-no-expand-env")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	// Litestream holds the trail's replication lock too: if repli dies
	// first, no other console starts a second Litestream while this one
	// ships its last transactions.
	cmd.ExtraFiles = []*os.File{s.lock}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start litestream (%s): %w", s.bin, err)
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	s.mu.Lock()
	s.child = c
	s.starts++
	fmt.Fprintf(s.log, "repli: %s litestream started (pid %d, start %d)\n", time.Now().UTC().Format(time.RFC3339), cmd.Process.Pid, s.starts)
	s.mu.Unlock()
	return c, nil
}

// waitReady waits until the control socket answers or the child exits.
func (s *Sidecar) waitReady(ctx context.Context, c *child) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://litestream/info", nil)
		if resp, err := s.client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("litestream exited at start (%v): %s", c.err, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("litestream does not answer on its control socket: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// logTail is the last lines of the log, cleaned, for an error message.
func (s *Sidecar) logTail() string {
	b, err := os.ReadFile(s.o.LogPath)
	if err != nil {
		return "(no log)"
	}
	return tail(b, 3)
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return Clean(strings.Join(lines, " | "))
}

// supervise starts litestream, reports on ready whether it came up (ctx
// bounds that start), then starts it again whenever it dies, with doubling
// backoff (reset after a minute of good health), until Close.
//
// It keeps its OS thread: the kernel sends Pdeathsig when the thread that
// forked the child ends, not the process, and Go may end a thread before
// the process; every litestream is forked from this one, which lives until
// supervise returns. It unlocks the thread on its way out, since Go ends a
// thread whose locked goroutine ends, and with it the children that any
// other code forked from it with a Pdeathsig of their own.
func (s *Sidecar) supervise(ctx context.Context, ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(s.done)
	c, err := s.launch()
	if err == nil {
		if err = s.waitReady(ctx, c); err != nil {
			terminate(c, 0)
		}
	}
	ready <- err
	if err != nil {
		return
	}
	delay := s.o.MinBackoff
	for {
		if c != nil {
			started := time.Now()
			select {
			case <-s.stop:
				terminate(c, s.o.StopGrace)
				return
			case <-c.exited:
			}
			if time.Since(started) > time.Minute {
				delay = s.o.MinBackoff
			}
			s.mu.Lock()
			s.child = nil
			s.lastExit = describeExit(c.err)
			s.downSince = time.Now()
			s.mu.Unlock()
		}
		s.mu.Lock()
		s.retryAt = time.Now().Add(delay)
		fmt.Fprintf(s.log, "repli: %s litestream down (%s); starting it again in %s\n", time.Now().UTC().Format(time.RFC3339), s.lastExit, delay)
		s.mu.Unlock()
		timer := time.NewTimer(delay)
		select {
		case <-s.stop:
			timer.Stop()
			return
		case <-s.kick:
			timer.Stop()
		case <-timer.C:
		}
		delay = min(delay*2, s.o.MaxBackoff)
		var err error
		if c, err = s.launch(); err != nil {
			s.mu.Lock()
			s.lastExit = err.Error()
			s.mu.Unlock()
		}
	}
}

func describeExit(err error) string {
	if err == nil {
		return "litestream exited"
	}
	return "litestream exited: " + err.Error()
}

// terminate asks litestream to ship what it has and stop (SIGTERM), and
// kills it after grace.
func terminate(c *child, grace time.Duration) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// poll keeps Status fresh.
func (s *Sidecar) poll() {
	defer s.polling.Done()
	t := time.NewTicker(s.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.o.PollInterval)
			s.Lag(ctx)
			cancel()
		}
	}
}

// syncResponse is Litestream's answer on POST /sync (server.go).
type syncResponse struct {
	Status         string `json:"status"`
	TXID           uint64 `json:"txid"`
	ReplicatedTXID uint64 `json:"replicated_txid"`
	Error          string `json:"error"`
}

// sync asks Litestream to turn the trail's WAL into a transaction file now
// and, with wait, to ship it to the replica before answering.
func (s *Sidecar) sync(ctx context.Context, wait bool, timeout time.Duration) (syncResponse, error) {
	body, _ := json.Marshal(map[string]any{
		"path": s.dbPath, "wait": wait, "timeout": int(math.Ceil(timeout.Seconds())),
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://litestream/sync", bytes.NewReader(body))
	if err != nil {
		return syncResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return syncResponse{}, fmt.Errorf("litestream did not confirm in time: %w", ctx.Err())
		}
		return syncResponse{}, fmt.Errorf("ask litestream: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return syncResponse{}, fmt.Errorf("read litestream's answer: %w", err)
	}
	var r syncResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return syncResponse{}, fmt.Errorf("read litestream's answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return r, errors.New(Clean(r.Error))
	}
	return r, nil
}

// measure records one answer (or failure) and returns the lag it means.
func (s *Sidecar) measure(r syncResponse, err error, running bool) Lag {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	l := Lag{At: now, Running: running, LocalTXID: s.last.LocalTXID, ReplicaTXID: s.last.ReplicaTXID}
	switch {
	case !running:
		l.Problem = s.downProblem(now)
	case err != nil:
		l.Problem = err.Error()
	default:
		l.LocalTXID, l.ReplicaTXID = r.TXID, r.ReplicatedTXID
		if r.ReplicatedTXID >= r.TXID {
			l.CaughtUp = true
			s.confirmed = now
		}
	}
	l.Confirmed = s.confirmed
	s.last = l
	return l
}

func (s *Sidecar) downProblem(now time.Time) string {
	p := s.lastExit
	if wait := s.retryAt.Sub(now); wait > 0 {
		p += fmt.Sprintf(", starting again in %s", wait.Round(time.Second))
	}
	return p
}

func (s *Sidecar) running() bool {
	if s.attached != nil {
		return true // its owner's to supervise; a failure shows as an error
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.child != nil
}

// Lag measures where the replica stands now, without waiting for it: every
// transaction committed before the call is counted. The error says why it
// could not be measured (litestream down or not answering); the Lag is
// filled with what is known either way.
func (s *Sidecar) Lag(ctx context.Context) (Lag, error) {
	if !s.running() {
		l := s.measure(syncResponse{}, nil, false)
		return l, fmt.Errorf("measure the replica's lag: %s", l.Problem)
	}
	from := s.logSize()
	r, err := s.sync(ctx, false, 0)
	if err != nil {
		if said := s.logError(from - 4<<10); said != "" {
			err = fmt.Errorf("%w; litestream says: %s", err, said)
		}
	}
	l := s.measure(r, err, true)
	if err != nil {
		return l, fmt.Errorf("measure the replica's lag: %w", err)
	}
	return l, nil
}

// WaitCaughtUp waits, at most bound, until the replica holds every
// transaction committed before the call: Litestream ships what it has now
// and answers when the replica has it. Past bound it returns the lag and an
// error wrapping ErrBehind, saying why (litestream down, the other site
// unreachable…); the caller warns and carries on.
func (s *Sidecar) WaitCaughtUp(ctx context.Context, bound time.Duration) (Lag, error) {
	logFrom := s.logSize()
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	retry := time.NewTicker(250 * time.Millisecond)
	defer retry.Stop()
	var last Lag
	for {
		var err error
		if s.running() {
			left := time.Until(deadline(ctx))
			var r syncResponse
			r, err = s.sync(ctx, true, left)
			last = s.measure(r, err, true)
			if err == nil && last.CaughtUp {
				return last, nil
			}
		} else {
			last = s.measure(syncResponse{}, nil, false)
		}
		select {
		case <-ctx.Done():
			why := last.Problem
			if why == "" {
				why = fmt.Sprintf("it holds transaction %d of %d", last.ReplicaTXID, last.LocalTXID)
			}
			if said := s.logError(logFrom); said != "" {
				why += "; litestream says: " + said
			}
			return last, fmt.Errorf("%w: not caught up within %s (%s); its log: %s", ErrBehind, bound, why, s.o.LogPath)
		case <-retry.C:
		}
	}
}

func (s *Sidecar) logSize() int64 {
	if fi, err := os.Stat(s.o.LogPath); err == nil {
		return fi.Size()
	}
	return 0
}

// logError is the last error or warning Litestream logged after offset
// from, its message only, for people: while the other site cannot be
// reached Litestream keeps trying and says why only in its log.
func (s *Sidecar) logError(from int64) string {
	f, err := os.Open(s.o.LogPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if size := s.logSize(); size-from > 64<<10 {
		from = size - 64<<10
	}
	from = max(from, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, from, 64<<10))
	if err != nil {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if !strings.Contains(l, "level=ERROR") && !strings.Contains(l, "level=WARN") {
			continue
		}
		if j := strings.Index(l, "msg="); j >= 0 {
			l = l[j+len("msg="):]
		}
		l = Clean(l)
		if len(l) > 300 {
			l = l[:300] + "…"
		}
		return l
	}
	return ""
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// Last is the last measurement, taken by Lag, WaitCaughtUp, or the
// sidecar itself every PollInterval.
func (s *Sidecar) Last() Lag {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Status is one line for a status bar: the replica and where it stands, as
// last measured. It does not block.
func (s *Sidecar) Status() string {
	l := s.Last()
	st := Redact(s.url) + ": " + l.String()
	if s.attached != nil {
		st += fmt.Sprintf(" (shipped by console pid %d)", s.attached.PID)
	}
	return st
}

// URL is the replica URL, redacted (see Redact).
func (s *Sidecar) URL() string { return Redact(s.url) }

// LogPath is where Litestream's log goes.
func (s *Sidecar) LogPath() string { return s.o.LogPath }

// PID is the running litestream's process id, 0 while it is down.
func (s *Sidecar) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.child == nil {
		return 0
	}
	return s.child.cmd.Process.Pid
}

// Restart starts litestream now if it is down, instead of at the end of
// its backoff (an operator's "retry the replica"). It does nothing to a
// running one.
func (s *Sidecar) Restart() {
	if s.running() {
		return
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Close stops litestream: SIGTERM, which makes it ship what it has
// (within StopGrace), then SIGKILL. Call WaitCaughtUp before, at the end of
// a run, to know the replica has everything. Close is idempotent.
func (s *Sidecar) Close() error {
	s.stopOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.polling.Wait()
		if s.attached != nil {
			return
		}
		s.log.Close()
		os.RemoveAll(s.dir)
		s.lock.Close() // after litestream has stopped
	})
	return nil
}
