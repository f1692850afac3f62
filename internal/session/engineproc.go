package session

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/repli-dr/repli/engine"
	"github.com/repli-dr/repli/internal/safetext"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/ui"
)

// The detached engine and its consoles.
//
// Events go from the engine to a console through the journal: the engine
// writes every event to the trail before it publishes it, and a console
// follows the trail as repli watch does. So an attached console sees
// exactly what an auditor will, a copied trail can always be followed, and
// nothing is lost while no console is attached.
//
// Inputs (gate answers, ticks, failure choices, notes) go from a console to
// the engine over a Unix socket beside the trail (mode 0600, so only the
// trail's owner can connect): the engine answers each one at once, so a
// refused or late input is an error on the console that sent it, and the
// engine journals what it accepts as always. Inputs are not written to a
// table first: they are not evidence until the engine has checked them,
// and a queue in the trail would be read by a dead engine's successor as
// answers to questions nobody saw. repli approve keeps its approvals table,
// which the engine polls as a driving console does.

// SocketPath is where the engine of a run listens: beside the trail, or in
// the temporary directory when that path is too long for a Unix socket.
func SocketPath(dbPath string, runID int64) string {
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		abs = dbPath
	}
	p := fmt.Sprintf("%s.run-%d.sock", abs, runID)
	if len(p) < 100 {
		return p
	}
	sum := sha256.Sum256([]byte(p))
	return filepath.Join(os.TempDir(), fmt.Sprintf("repli-%x.sock", sum[:8]))
}

// LogPath is the engine process's log for a run, beside the trail.
func LogPath(dbPath string, runID int64) string {
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		abs = dbPath
	}
	return fmt.Sprintf("%s.run-%d.log", abs, runID)
}

// wireRequest is one request of a console to the engine, one JSON line.
type wireRequest struct {
	Op    string       `json:"op"` // ping, hold, input, note, sites
	Input engine.Input `json:"input,omitempty"`
	// Operator and Text of a note.
	Operator string `json:"operator,omitempty"`
	Text     string `json:"text,omitempty"`
	// Hold: the console asking to drive (Who), and the reason it takes the
	// run from another attached console (TakeOver). Token: what the engine
	// gave the console that drives, sent with its inputs and notes.
	Who      string `json:"who,omitempty"`
	TakeOver string `json:"take_over,omitempty"`
	Token    string `json:"token,omitempty"`
	// Mark of sites: the statuses the console already has.
	Mark int64 `json:"mark,omitempty"`
}

// wireReply is the engine's answer.
type wireReply struct {
	Err   string `json:"err,omitempty"`
	PID   int    `json:"pid,omitempty"`
	RunID int64  `json:"run_id,omitempty"`
	// Replica is the replica's lag in a few words, "" without one.
	Replica string `json:"replica,omitempty"`
	// Token: the console now drives (hold).
	Token string `json:"token,omitempty"`
	// Sites changed since the request's Mark, and the mark to ask with
	// next (sites).
	Sites []engine.SiteStatus `json:"sites,omitempty"`
	Mark  int64               `json:"mark,omitempty"`
}

type server struct {
	// mu guards the console that drives: one at a time.
	mu     sync.Mutex
	driver *attached

	ln    net.Listener
	path  string
	sites *siteBoard
	fi    os.FileInfo // the socket file, removed at the end only if still this one
	wg    sync.WaitGroup
}

// serve listens on the run's socket and hands what consoles send to eng.
func serve(ctx context.Context, dbPath string, runID int64, eng *engine.Engine, con Console, rep *trailReplica, sites *siteBoard) (*server, error) {
	path := SocketPath(dbPath, runID)
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("listen for consoles: another engine already drives run %d (%s answers)", runID, path)
	}
	os.Remove(path) // a dead engine's socket
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen for consoles on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen for consoles: restrict %s to its owner: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	fi, _ := os.Stat(path)
	s := &server{ln: ln, path: path, fi: fi, sites: sites}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				s.handle(ctx, c, eng, runID, con, rep)
			}()
		}
	}()
	return s, nil
}

// attached is the console that drives the run through this engine.
type attached struct {
	who   string
	token string
	since time.Time
	conn  net.Conn
}

// hold makes the asking console the one that drives, if none does or it
// takes the run over with a reason (recorded as a note); the connection
// stays open while it drives.
func (s *server) hold(ctx context.Context, c net.Conn, req wireRequest, eng *engine.Engine, runID int64, con Console, reply wireReply) {
	s.mu.Lock()
	old := s.driver
	if old != nil && req.TakeOver == "" {
		s.mu.Unlock()
		reply.Err = fmt.Sprintf("run %d is driven from another console: %s, since %s; follow it with repli watch %d, or take it over with repli attach %d --take-over \"the reason\" (recorded)",
			runID, old.who, old.since.Local().Format("15:04:05"), runID, runID)
		json.NewEncoder(c).Encode(reply)
		return
	}
	var b [16]byte
	rand.Read(b[:])
	me := &attached{who: safetext.Line(req.Who), token: hex.EncodeToString(b[:]), since: time.Now(), conn: c}
	s.driver = me
	s.mu.Unlock()
	if old != nil {
		json.NewEncoder(old.conn).Encode(wireReply{Err: fmt.Sprintf("%s took this run over: %s", me.who, safetext.Line(req.TakeOver))})
		old.conn.Close()
		if err := eng.Note(ctx, req.Operator, fmt.Sprintf("took the console over from %s: %s", old.who, req.TakeOver)); err != nil {
			fmt.Fprintf(con.Err, "repli: record the takeover: %s\n", safetext.Line(err.Error()))
		}
	}
	fmt.Fprintf(con.Err, "repli: %s console attached: %s\n", time.Now().UTC().Format(time.RFC3339), me.who)
	reply.Token = me.token
	if json.NewEncoder(c).Encode(reply) == nil {
		io.Copy(io.Discard, c) // until the console leaves, or is taken over
	}
	s.mu.Lock()
	if s.driver == me {
		s.driver = nil
		fmt.Fprintf(con.Err, "repli: %s console left: %s\n", time.Now().UTC().Format(time.RFC3339), me.who)
	}
	s.mu.Unlock()
}

// drives tells whether token is the driving console's.
func (s *server) drives(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.driver != nil && token != "" && s.driver.token == token
}

func (s *server) handle(ctx context.Context, c net.Conn, eng *engine.Engine, runID int64, con Console, rep *trailReplica) {
	var req wireRequest
	dec := json.NewDecoder(io.LimitReader(c, 1<<20))
	if err := dec.Decode(&req); err != nil {
		return
	}
	reply := wireReply{PID: os.Getpid(), RunID: runID, Replica: rep.status()}
	var err error
	switch {
	case req.Op == "hold":
		s.hold(ctx, c, req, eng, runID, con, reply)
		return
	case req.Op != "ping" && req.Op != "sites" && !s.drives(req.Token):
		err = errors.New("this console does not drive the run (another console took it over, or it left): attach again with repli attach")
	}
	switch {
	case err != nil:
	case req.Op == "ping":
	case req.Op == "sites":
		reply.Sites, reply.Mark = s.sites.since(req.Mark)
	case req.Op == "input":
		fmt.Fprintf(con.Err, "repli: %s input from %s: kind %v at %s\n", time.Now().UTC().Format(time.RFC3339), safetext.Line(req.Input.Operator), req.Input.Kind, safetext.Line(req.Input.Step))
		// Send returns once the engine has taken the input, or the run is
		// over; a console gone meanwhile changes nothing.
		sent := make(chan error, 1)
		go func() { sent <- eng.Send(req.Input) }()
		select {
		case err = <-sent:
		case <-ctx.Done():
			err = ctx.Err()
		}
	case req.Op == "note":
		err = eng.Note(ctx, req.Operator, req.Text)
	default:
		err = fmt.Errorf("unknown request %q", req.Op)
	}
	if err != nil {
		reply.Err = err.Error()
	}
	json.NewEncoder(c).Encode(reply)
}

func (s *server) close() {
	s.ln.Close()
	if fi, err := os.Stat(s.path); err == nil && s.fi != nil && os.SameFile(fi, s.fi) {
		os.Remove(s.path)
	}
}

// logEvents is the consumer of a detached engine: every event, one line in
// its log, so that the engine never waits for a console.
// The console that started the engine is told the run is under way once
// its first event is in the trail.
func logEvents(ctx context.Context, con Console, eng *engine.Engine) {
	first := true
	for ev := range eng.Events() {
		m := ev.EventMeta()
		if first && con.Ready != nil {
			con.Ready(m.RunID)
		}
		first = false
		if line := ui.EventLine(ev); line != "" {
			fmt.Fprintf(con.Err, "%s #%d %s\n", m.At.UTC().Format(time.RFC3339), m.Seq, safetext.Line(line))
		}
		switch e := ev.(type) {
		case *engine.GateOpened:
			if !eng.Options().AutoApprove {
				fmt.Fprintf(con.Err, "repli: waiting for a person at the gate of %s: repli attach %d%s\n", safetext.Line(e.Step), m.RunID, dbHintOf(ctx))
			}
		case *engine.FailureOpened:
			fmt.Fprintf(con.Err, "repli: waiting for a person to choose what to do with %s: repli attach %d%s\n", safetext.Line(e.Step), m.RunID, dbHintOf(ctx))
		}
	}
}

type dbKey struct{}

func dbHintOf(ctx context.Context) string {
	if p, ok := ctx.Value(dbKey{}).(string); ok {
		return dbHint(p)
	}
	return ""
}

// Spec is what a detached engine process is asked to do: start a run, or
// resume one (Resume is its id). It travels as JSON on a pipe.
type Spec struct {
	Resume   int64
	TakeOver string
	Mode     string
	Request  Request
	Console  Console
	// Log is where the engine's stdout and stderr go until it knows the
	// run's id; it is renamed to LogPath then.
	Log string
}

// EngineCommand is the hidden subcommand that runs a detached engine.
const EngineCommand = "__engine"

// RunEngine is the detached engine process: it reads its Spec from spec,
// runs the session headless, and writes "ok RUN_ID" to report once the run
// is under way (or "error: …" if it never was). load loads a runbook by
// its Source; assess and configure are as for Start and Resume.
func RunEngine(ctx context.Context, spec io.Reader, report io.WriteCloser, load func(Source) (*runbooks.Runbook, error), assess Assessor, configure func(*runbooks.Runbook) error) error {
	var sp Spec
	if err := json.NewDecoder(spec).Decode(&sp); err != nil {
		fmt.Fprintf(report, "error: read what to run: %v\n", err)
		report.Close()
		return usage(fmt.Errorf("read what to run: %w", err))
	}
	con := sp.Console
	con.Headless, con.TUI = true, false
	con.In, con.Out, con.Err = eofReader{}, os.Stdout, os.Stderr
	var once sync.Once
	ready := false
	con.Ready = func(id int64) {
		once.Do(func() {
			ready = true
			if sp.Log != "" && sp.Log != LogPath(sp.Request.DB, id) {
				os.Rename(sp.Log, LogPath(sp.Request.DB, id))
			}
			fmt.Fprintf(con.Err, "repli: engine pid %d drives run %d, detached; consoles attach with: repli attach %d%s\n", os.Getpid(), id, id, dbHint(sp.Request.DB))
			fmt.Fprintf(report, "ok %d\n", id)
			report.Close()
		})
	}
	req := sp.Request
	req.Detach, req.Assess = false, assess
	ctx = context.WithValue(ctx, dbKey{}, req.DB)
	var err error
	if sp.Resume == 0 {
		var rb *runbooks.Runbook
		if rb, err = load(req.Source); err == nil {
			err = Start(ctx, rb, sp.Mode, req, con)
		}
	} else {
		err = Resume(ctx, sp.Resume, sp.TakeOver, req, con, configure)
	}
	if !ready {
		msg := "the engine stopped before the run started"
		if err != nil {
			msg = err.Error()
		}
		fmt.Fprintf(report, "error: %s\n", msg)
		report.Close()
	}
	if err != nil {
		fmt.Fprintf(con.Err, "repli: %s\n", safetext.Terminal(err.Error()))
	}
	return err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// readReport reads what the engine process reported: its run's id, or why
// it did not start.
func readReport(r io.Reader) (int64, error) {
	// One line, or everything up to EOF: an error may span lines, and the
	// engine's own children may hold the pipe open after "ok".
	br := bufio.NewReader(io.LimitReader(r, 1<<20))
	b, err := br.ReadBytes('\n')
	if err == nil && !strings.HasPrefix(string(b), "ok ") {
		rest, _ := io.ReadAll(br)
		b = append(b, rest...)
	}
	var id int64
	if _, err := fmt.Sscanf(string(b), "ok %d", &id); err == nil && id > 0 {
		return id, nil
	}
	msg := string(b)
	if len(msg) > 7 && msg[:7] == "error: " {
		msg = msg[7:]
	}
	if msg == "" {
		return 0, errors.New("the engine process ended before it said anything")
	}
	return 0, errors.New(safetext.Terminal(trimNL(msg)))
}

func trimNL(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return s
}
