package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// Break says what is wrong with a trail that does not verify.
type Break string

// Kinds of break.
const (
	// BreakChanged: an event's content (body, time, kind, ...) is not what
	// was written, or an event was replaced.
	BreakChanged Break = "changed"
	// BreakMissing: events were removed from the middle of the trail.
	BreakMissing Break = "missing"
	// BreakReordered: events are not in the order they were written.
	BreakReordered Break = "reordered"
	// BreakInserted: an event that was never written by repli was added.
	BreakInserted Break = "inserted"
	// BreakTruncated: the last events of the trail, or of a run, were
	// removed.
	BreakTruncated Break = "truncated"
	// BreakIndex: the runs table contradicts the events.
	BreakIndex Break = "index"
	// BreakDamaged: SQLite finds the file itself damaged (its integrity
	// check fails): a bad disk, a copy cut short, or an edit with a tool
	// that does not know SQLite. The chain is not checked on such a file.
	BreakDamaged Break = "damaged"
)

// integrityCheck runs PRAGMA integrity_check or quick_check and returns its
// first findings, or "" when the file is sound. A file so damaged that the
// check cannot run is a finding too.
//
// Verify runs integrity_check, not quick_check: quick_check walks every page
// but does not compare the indexes with their tables, and a damaged index is
// exactly what leaves a chain that verifies (the chain is read in rowid
// order, through no index) on a file whose next write fails. Open, which
// runs before every run, resume and approval, runs quick_check: one read of
// the file, and what it misses Verify finds.
func integrityCheck(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, pragma string) (string, error) {
	rows, err := q.QueryContext(ctx, "PRAGMA "+pragma+"(20)")
	if err != nil {
		var se sqlite3.Error
		if errors.As(err, &se) && se.Code == sqlite3.ErrCorrupt {
			return err.Error(), nil
		}
		return "", fmt.Errorf("check the database file (%s): %w", pragma, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return "", err
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		var se sqlite3.Error
		if errors.As(err, &se) && se.Code == sqlite3.ErrCorrupt {
			return strings.Join(append(lines, err.Error()), "; "), nil
		}
		return "", fmt.Errorf("check the database file (%s): %w", pragma, err)
	}
	if len(lines) == 1 && lines[0] == "ok" {
		return "", nil
	}
	if len(lines) > 3 {
		lines = append(lines[:3], fmt.Sprintf("and more (%d findings shown of up to 20)", len(lines)))
	}
	return strings.Join(lines, "; "), nil
}

// damagedAdvice says what a damaged trail is and what to do with it.
func damagedAdvice(path, problem string) string {
	return fmt.Sprintf("SQLite finds %s damaged (%s); keep it as evidence: copy it aside with its -wal and -shm files "+
		"(cp -p %s* /a/safe/place/), then start new runs on a new database (--db NEW.db, or move this one away); "+
		"sqlite3 %s .recover can salvage the rows of the copy, which verify then checks", path, problem, path, path)
}

// Verification is the result of recomputing the hash chain.
type Verification struct {
	Events int64  `json:"events"`
	Head   string `json:"head_hash"`
	// HeadID is the id of the last event: Head is its hash.
	HeadID   int64  `json:"head_event_id"`
	OK       bool   `json:"ok"`
	Break    Break  `json:"break,omitempty"`
	BadID    int64  `json:"bad_event_id,omitempty"`
	BadRun   int64  `json:"bad_run_id,omitempty"`
	BadSeq   int64  `json:"bad_seq,omitempty"`
	Problem  string `json:"problem,omitempty"`
	RunID    int64  `json:"run_id,omitempty"`
	RunCount int64  `json:"run_events,omitempty"`
}

// storedEvent is one row of the events table.
type storedEvent struct {
	id, run, seq                         int64
	at, kind, step, body, prevHash, hash string
}

const eventColumns = `id, run_id, seq, at, kind, step, body, prev_hash, hash`

func scanEvent(sc interface{ Scan(...any) error }) (storedEvent, error) {
	var e storedEvent
	err := sc.Scan(&e.id, &e.run, &e.seq, &e.at, &e.kind, &e.step, &e.body, &e.prevHash, &e.hash)
	return e, err
}

// hashAs is the hash the event would have had if written as event id.
func (e storedEvent) hashAs(id int64) string {
	return eventHash(e.prevHash, id, e.run, e.seq, e.at, e.kind, e.step, e.body)
}

func (e storedEvent) String() string {
	return fmt.Sprintf("event %d (run %d #%d, %s)", e.id, e.run, e.seq, e.kind)
}

// Verify recomputes the whole chain, in id order, then checks the runs
// table against it. The first event that does not match is named, with what
// is wrong: changed, missing, reordered, inserted, or truncated. When runID
// is not zero, the count of that run's events is reported too; the chain is
// always checked whole, because one run's events are linked to every other's.
//
// What it cannot see: the hash is not keyed, so someone who rewrites events
// and recomputes every hash after them, and edits the runs table to match,
// leaves a chain that verifies. Nor can it see the last events of a run that
// never ended cut off, together with everything after them. Both are caught
// only against a hash kept outside the file: the head hash printed when each
// run ends (Run.EndHash), which the operator writes into the ticket, and
// which CheckAnchor compares.
func (s *Store) Verify(ctx context.Context, runID int64) (v Verification, err error) {
	v = Verification{RunID: runID, Head: GenesisHash}
	// SQLite's integrity check reads the whole file, as the chain check
	// does: both run at once, on two connections (see integrityAside).
	damage := s.integrityAside(ctx)
	defer func() { v, err = damage.verdict(v, err) }()
	c, done, err := s.snapshot(ctx, "read events")
	if err != nil {
		return v, err
	}
	defer done()
	ends, err := s.runEnds(ctx, c)
	if err != nil {
		return v, err
	}
	headID, _, err := s.head(ctx, c)
	if err != nil {
		return v, err
	}
	sources, release, err := s.chainSources(ctx, c, headID)
	if err != nil {
		return v, err
	}
	p := newChainPass(runID)
	var misfit *storedEvent // the first event that does not fit
	err = func() error {
		events := newChainReader(sources, runtime.GOMAXPROCS(0))
		defer events.Close()
		for events.Next() {
			e, selfOK := events.Event()
			if !p.fits(e, selfOK) {
				misfit = &e
				return nil
			}
			p.add(e, ends)
		}
		return events.Err()
	}()
	release()
	if err != nil {
		return v, fmt.Errorf("read events: %w", s.explain(err))
	}
	if misfit != nil {
		v.Events, v.RunCount = p.events, p.runCount
		return s.diagnose(ctx, c, v, *misfit, p.prevID, p.prev, p.lastSeq[misfit.run])
	}
	v.Events, v.RunCount = p.events, p.runCount
	v.Head, v.HeadID = p.prev, p.prevID
	p.f.headID = p.prevID
	bad := ends.check(p.f)
	if bad == nil {
		bad = ends.checkRows(p.f, s.version >= schemaStartEvent)
	}
	if bad != nil {
		v.Break, v.BadID, v.BadRun, v.BadSeq, v.Problem = bad.brk, bad.id, bad.run, bad.seq, bad.problem
		return v, nil
	}
	v.OK = true
	return v, nil
}

// chainSources are the readers of the events up to headID (see
// rawrows.go): on c, and on more connections when the trail is large and
// there are cores to read on. release gives those connections back.
func (s *Store) chainSources(ctx context.Context, c *sql.Conn, headID int64) ([]chainSource, func(), error) {
	segs := chainSegments(headID)
	readers := min(runtime.GOMAXPROCS(0), maxChainReaders, (len(segs)+1)/2)
	readers = max(readers, 1)
	conns := []*sql.Conn{c}
	release := func() {
		for _, x := range conns[1:] {
			x.Close()
		}
	}
	for len(conns) < readers {
		x, err := s.db.Conn(ctx)
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("read events: %w", s.explain(err))
		}
		conns = append(conns, x)
	}
	sources := make([]chainSource, readers)
	for r := range sources {
		sources[r] = segmentReader(ctx, conns[r], segs, r, readers)
	}
	return sources, release, nil
}

// maxChainReaders bounds the connections Verify reads the chain on: beyond
// a few, the hashing and the pass in order are the bound.
const maxChainReaders = 4

// snapshot pins a connection and opens one read transaction on it, so
// that runs and events are one snapshot even while a console appends. A
// plain BEGIN on a pinned connection: the pool's transactions are BEGIN
// IMMEDIATE, which would hold writers off for the whole check. done rolls
// back and releases the connection. Errors are wrapped with what.
func (s *Store) snapshot(ctx context.Context, what string) (c *sql.Conn, done func(), err error) {
	c, err = s.db.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, s.explain(err))
	}
	if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("%s: %w", what, s.explain(err))
	}
	return c, func() {
		c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		c.Close()
	}, nil
}

// chainPass is what Verify's pass over the chain carries from one event to
// the next: the last link, each run's sequence, and the facts check needs.
type chainPass struct {
	runID                    int64
	prev                     string
	prevID, prevRun, prevSeq int64
	lastSeq                  map[int64]int64
	f                        chainFacts
	ended                    map[int64]bool
	events, runCount         int64
}

func newChainPass(runID int64) *chainPass {
	return &chainPass{runID: runID, prev: GenesisHash, lastSeq: map[int64]int64{},
		f: chainFacts{last: map[int64]storedEvent{}, afterEnd: map[int64]storedEvent{}, endHashes: map[int64]string{},
			first: map[int64]storedEvent{}, ended: map[int64]storedEvent{}},
		ended: map[int64]bool{}}
}

// fits reports whether e comes next: the next id, linked to the event
// before, next in its run's sequence, and (selfOK) matching its own hash.
func (p *chainPass) fits(e storedEvent, selfOK bool) bool {
	// A signature event is numbered -seq of the event it signs, and is
	// written right after it (same transaction): it is chained like
	// every event but takes no place in its run's sequence.
	inSeq := e.seq == p.lastSeq[e.run]+1
	if e.kind == KindSignature {
		inSeq = e.seq < 0 && p.prevRun == e.run && p.prevSeq == -e.seq
	}
	return e.id == p.prevID+1 && e.prevHash == p.prev && inSeq && selfOK
}

// add takes e, which fits, into the pass.
func (p *chainPass) add(e storedEvent, ends runEnds) {
	p.prev, p.prevID, p.prevRun, p.prevSeq = e.hash, e.id, e.run, e.seq
	p.events++
	if e.run == p.runID {
		p.runCount++
	}
	if e.kind == KindSignature {
		return
	}
	p.lastSeq[e.run] = e.seq
	f := &p.f
	switch {
	case e.seq == 1:
		f.first[e.run] = e
	case e.kind == "run.ended":
		f.ended[e.run] = e
	}
	e.body = ""
	if e.kind == KindFinding {
		// The one kind an ended run takes, and only once it has ended.
		if !p.ended[e.run] && f.misplaced == nil {
			f.misplaced = &e
		}
		return
	}
	f.last[e.run] = e
	if _, after := f.afterEnd[e.run]; p.ended[e.run] && !after {
		f.afterEnd[e.run] = e
	}
	if r, ok := ends.byEvent[e.id]; ok {
		f.endHashes[e.id] = e.hash
		p.ended[r.run] = r.run == e.run
	}
}

// diagnose names what is wrong at the first event that does not verify. It
// may read other rows: a moved event still carries the hash of the event it
// was written after, and its own hash says at which id it was written.
func (s *Store) diagnose(ctx context.Context, q querier, v Verification, e storedEvent, prevID int64, prev string, runLast int64) (Verification, error) {
	f, err := s.diagnoseAt(ctx, q, e, prevID, prev, runLast)
	if err != nil {
		return v, err
	}
	v.Break, v.BadID, v.BadRun, v.BadSeq, v.Problem = f.brk, f.id, f.run, f.seq, f.problem
	return v, nil
}

// newFinding is a finding with its problem formatted.
func newFinding(brk Break, id, run, seq int64, format string, a ...any) *finding {
	return &finding{brk, id, run, seq, fmt.Sprintf(format, a...)}
}

func (s *Store) diagnoseAt(ctx context.Context, q querier, e storedEvent, prevID int64, prev string, runLast int64) (*finding, error) {
	if e.id != prevID+1 {
		return missingBefore(e, prevID), nil
	}
	self := e.hashAs(e.id) == e.hash
	linked := e.prevHash == prev
	switch {
	case linked && !self:
		return s.diagnoseChanged(ctx, q, e, prev)
	case linked && self:
		return diagnoseRewritten(e, runLast), nil
	case self:
		return s.diagnoseReplaced(ctx, q, e, prevID)
	}
	return s.diagnoseMoved(ctx, q, e)
}

// missingBefore is the finding for a gap in the ids before e.
func missingBefore(e storedEvent, prevID int64) *finding {
	if prevID == 0 {
		if e.id == 2 {
			return newFinding(BreakMissing, 1, 0, 0, "event 1 is missing: the chain starts at %s", e)
		}
		return newFinding(BreakMissing, 1, 0, 0, "events 1 to %d are missing: the chain starts at %s", e.id-1, e)
	}
	if e.id == prevID+2 {
		return newFinding(BreakMissing, prevID+1, 0, 0, "event %d is missing: the chain goes from event %d to %s", prevID+1, prevID, e)
	}
	return newFinding(BreakMissing, prevID+1, 0, 0, "events %d to %d are missing: the chain goes from event %d to %s", prevID+1, e.id-1, prevID, e)
}

// diagnoseChanged: e is linked but does not match its own hash. Changed in
// place, or a forgery slotted in before the genuine event, which then
// follows it, renumbered.
func (s *Store) diagnoseChanged(ctx context.Context, q querier, e storedEvent, prev string) (*finding, error) {
	next, err := s.eventAt(ctx, q, e.id+1)
	if err != nil {
		return nil, err
	}
	if next != nil && next.prevHash == prev && next.hashAs(e.id) == next.hash {
		return newFinding(BreakInserted, e.id, e.run, e.seq, "%s was inserted: it was never written by repli (the event after it was written as event %d)", e, e.id), nil
	}
	return newFinding(BreakChanged, e.id, e.run, e.seq, "%s was changed after it was written: its content no longer matches its hash", e), nil
}

// diagnoseRewritten: hashes agree but the run's sequence does not: the
// chain was rewritten by someone who recomputed the hashes.
func diagnoseRewritten(e storedEvent, runLast int64) *finding {
	if e.kind == KindSignature {
		return newFinding(BreakReordered, e.id, e.run, e.seq, "%s is not right after the event it signs (#%d of run %d): it was moved, or forged, and the hashes recomputed to hide it", e, -e.seq, e.run)
	}
	if e.seq > runLast+1 {
		return newFinding(BreakMissing, e.id, e.run, runLast+1, "run %d events #%d to #%d are missing before %s, and the hashes after them were recomputed to hide it", e.run, runLast+1, e.seq-1, e)
	}
	return newFinding(BreakReordered, e.id, e.run, e.seq, "%s comes after #%d of its run: events were reordered or duplicated, and the hashes recomputed to hide it", e, runLast)
}

// diagnoseReplaced: e is where it was written, but after a different
// event: the one before it is not the original.
func (s *Store) diagnoseReplaced(ctx context.Context, q querier, e storedEvent, prevID int64) (*finding, error) {
	p, err := s.eventAt(ctx, q, prevID)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return newFinding(BreakChanged, e.id, e.run, e.seq, "%s does not start the chain as written", e), nil
	}
	if at, err := s.eventWithHash(ctx, q, e.prevHash); err != nil {
		return nil, err
	} else if at != 0 {
		return newFinding(BreakReordered, p.id, p.run, p.seq, "%s is out of place: the event written there is now event %d", p, at), nil
	}
	return newFinding(BreakChanged, p.id, p.run, p.seq, "%s was replaced: %s was written after a different event (the replacement's hash was recomputed to hide it)", p, e), nil
}

// diagnoseMoved: e is neither linked nor self-consistent: it was written
// at another id, or forged. The event it was written after, and that one's
// own origin, say at which id it was written.
func (s *Store) diagnoseMoved(ctx context.Context, q querier, e storedEvent) (*finding, error) {
	orig, err := s.origin(ctx, q, e, maxOriginDepth)
	if err != nil {
		return nil, err
	}
	if orig != 0 {
		if orig > e.id {
			return newFinding(BreakReordered, e.id, e.run, e.seq, "%s is out of place: it was written as event %d; events were reordered", e, orig), nil
		}
		if orig == e.id-1 {
			return newFinding(BreakInserted, orig, 0, 0, "event %d was inserted: it was never written by repli (%s was written as event %d)", orig, e, orig), nil
		}
		return newFinding(BreakInserted, orig, 0, 0, "events %d to %d were inserted: they were never written by repli (%s was written as event %d)", orig, e.id-1, e, orig), nil
	}
	// The event it was written after is gone: events were removed and
	// the later ones renumbered to close the gap. Find by how many.
	for o := e.id + 1; o <= e.id+maxRenumber; o++ {
		if e.hashAs(o) == e.hash {
			if o == e.id+1 {
				return newFinding(BreakMissing, e.id, 0, 0, "event %d is missing: the events after it were renumbered (%s was written as event %d)", e.id, e, o), nil
			}
			return newFinding(BreakMissing, e.id, 0, 0, "events %d to %d are missing: the events after them were renumbered (%s was written as event %d)", e.id, o-1, e, o), nil
		}
	}
	return newFinding(BreakChanged, e.id, e.run, e.seq, "%s matches neither its place in the chain nor its own hash: it was forged or altered", e), nil
}

// origin is the id an event was written as, or 0 when that cannot be told:
// its own id if its hash says so, else one more than the origin of the event
// whose hash it carries as previous.
func (s *Store) origin(ctx context.Context, q querier, e storedEvent, depth int) (int64, error) {
	if e.hashAs(e.id) == e.hash {
		return e.id, nil
	}
	if e.prevHash == GenesisHash {
		if e.hashAs(1) == e.hash {
			return 1, nil
		}
		return 0, nil
	}
	if depth == 0 {
		return 0, nil
	}
	at, err := s.eventWithHash(ctx, q, e.prevHash)
	if err != nil || at == 0 {
		return 0, err
	}
	p, err := s.eventAt(ctx, q, at)
	if err != nil || p == nil {
		return 0, err
	}
	po, err := s.origin(ctx, q, *p, depth-1)
	if err != nil || po == 0 {
		return 0, err
	}
	if e.hashAs(po+1) == e.hash {
		return po + 1, nil
	}
	return 0, nil
}

// maxOriginDepth bounds how many moved events origin follows back.
const maxOriginDepth = 64

// maxRenumber bounds the search for how many events were removed before a
// renumbered one; beyond it the break is reported as a change.
const maxRenumber = 10000

func (s *Store) eventAt(ctx context.Context, q querier, id int64) (*storedEvent, error) {
	e, err := scanEvent(q.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read event %d: %w", id, s.explain(err))
	}
	return &e, nil
}

// eventWithHash returns the id of the event whose hash is h, or 0.
func (s *Store) eventWithHash(ctx context.Context, q querier, h string) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM events WHERE hash = ? ORDER BY id LIMIT 1`, h).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("search events: %w", s.explain(err))
	}
	return id, nil
}

// runEnd is what the runs table says about how a run ended.
type runEnd struct {
	run     int64
	ended   bool
	outcome string
	eventID int64  // 0 when the run ended before schema 2
	hash    string // likewise
	// row is everything the runs table says, as history and the report
	// show it; checkRows holds it to the run's chained events.
	row      Run
	reserved bool  // schema 4: no run.started yet
	startID  int64 // schema 4: id of its run.started event
}

// prefixScanner scans a row whose first columns go to pre, the rest to the
// caller's destinations.
type prefixScanner struct {
	sc  interface{ Scan(...any) error }
	pre []any
}

func (p prefixScanner) Scan(dest ...any) error { return p.sc.Scan(append(p.pre, dest...)...) }

type runEnds struct {
	runs    []runEnd
	byEvent map[int64]runEnd
}

func (s *Store) runEnds(ctx context.Context, c *sql.Conn) (runEnds, error) {
	ends := runEnds{byEvent: map[int64]runEnd{}}
	startCol := "NULL"
	if s.version >= schemaStartEvent {
		startCol = "start_event_id"
	}
	rows, err := c.QueryContext(ctx, `SELECT ended_at IS NOT NULL, coalesce(end_event_id, 0), coalesce(end_hash, ''), `+startCol+`, `+runColumns+` FROM runs ORDER BY id`)
	if err != nil {
		return ends, fmt.Errorf("read runs: %w", s.explain(err))
	}
	defer rows.Close()
	for rows.Next() {
		var r runEnd
		var start sql.NullInt64
		row, err := scanRun(prefixScanner{rows, []any{&r.ended, &r.eventID, &r.hash, &start}})
		if err != nil {
			return ends, fmt.Errorf("read run: %w", err)
		}
		r.run, r.outcome, r.row = row.ID, string(row.Outcome), row
		r.reserved = s.version >= schemaStartEvent && !start.Valid
		r.startID = start.Int64
		ends.runs = append(ends.runs, r)
		if r.eventID != 0 {
			ends.byEvent[r.eventID] = r
		}
	}
	return ends, rows.Err()
}

type finding struct {
	brk          Break
	id, run, seq int64
	problem      string
}

// chainFacts is what the pass over a verified chain remembers for check.
type chainFacts struct {
	headID    int64
	last      map[int64]storedEvent // each run's last event (no body)
	afterEnd  map[int64]storedEvent // each run's first event after its recorded end
	misplaced *storedEvent          // the first finding before its run's end
	endHashes map[int64]string      // hash of each event a run row says it ended at
	first     map[int64]storedEvent // each run's event #1, with its body
	ended     map[int64]storedEvent // each run's last run.ended, with its body
}

// check compares the runs table with a chain that verified. This is how a
// cut at the end of the chain shows (a run recorded as ended at an event the
// chain no longer has), and how events added after a run ended show.
func (ends runEnds) check(f chainFacts) *finding {
	var cut *runEnd
	for i, r := range ends.runs {
		if r.eventID > f.headID && (cut == nil || r.eventID > cut.eventID) {
			cut = &ends.runs[i]
		}
	}
	if cut != nil {
		return &finding{BreakTruncated, f.headID + 1, cut.run, 0, fmt.Sprintf(
			"the trail was cut: it ends at event %d, but run %d was recorded as ending at event %d (hash %s); events %d to %d are gone",
			f.headID, cut.run, cut.eventID, cut.hash, f.headID+1, cut.eventID)}
	}
	if m := f.misplaced; m != nil {
		return &finding{BreakInserted, m.id, m.run, m.seq, fmt.Sprintf(
			"%s is a finding written before run %d ended: findings are only added to an ended run", m, m.run)}
	}
	for _, r := range ends.runs {
		l, has := f.last[r.run]
		switch {
		case !r.ended:
			if has && l.kind == "run.ended" {
				return &finding{BreakIndex, l.id, r.run, l.seq, fmt.Sprintf(
					"run %d ended at event %d, but the runs table says it is still running: the runs table was edited", r.run, l.id)}
			}
		case !has:
			return &finding{BreakTruncated, r.eventID, r.run, 1, fmt.Sprintf("run %d is recorded as %s, but it has no events left", r.run, r.outcome)}
		case r.eventID == 0:
			// Ended before schema 2 recorded where: only the kind can tell.
			if l.kind != "run.ended" {
				return &finding{BreakTruncated, 0, r.run, l.seq, fmt.Sprintf(
					"run %d is recorded as %s, but its last event is #%d (%s), not run.ended: events were removed from or added to its end", r.run, r.outcome, l.seq, l.kind)}
			}
		case f.endHashes[r.eventID] != r.hash:
			return &finding{BreakChanged, r.eventID, r.run, 0, fmt.Sprintf(
				"run %d was recorded as ending at event %d with hash %s, but event %d now has hash %s: the trail was rewritten and its hashes recomputed",
				r.run, r.eventID, r.hash, r.eventID, f.endHashes[r.eventID])}
		case l.id > r.eventID:
			a := f.afterEnd[r.run]
			return &finding{BreakInserted, a.id, a.run, a.seq, fmt.Sprintf(
				"%s was added after run %d ended at event %d", a, r.run, r.eventID)}
		}
	}
	return nil
}

// CheckAnchor checks that event id of this trail still has hash h, the head
// hash written down when a run ended. Together with a Verify that passes, it
// proves that nothing up to that event was changed since, even by someone
// who recomputed the hashes, and that the trail was not cut before it.
func (s *Store) CheckAnchor(ctx context.Context, id int64, h string) error {
	e, err := s.eventAt(ctx, s.db, id)
	if err != nil {
		return err
	}
	if e == nil {
		return fmt.Errorf("anchor %d:%s: the trail has no event %d: it was cut", id, h, id)
	}
	if e.hash != h {
		return fmt.Errorf("anchor %d:%s: %s has hash %s: the trail was rewritten", id, h, e, e.hash)
	}
	return nil
}

// RunVerification is the result of checking one run's events and their
// links to the rest of the chain (VerifyRun).
type RunVerification struct {
	RunID int64 `json:"run_id"`
	// Events counts the run's events, signatures included; FirstID and
	// LastID are the ids of its first and last, LastHash the hash of the
	// last (the run's anchor, LastID:LastHash).
	Events   int64  `json:"events"`
	FirstID  int64  `json:"first_event_id"`
	LastID   int64  `json:"last_event_id"`
	LastSeq  int64  `json:"last_seq"`
	LastHash string `json:"last_hash"`
	// HeadID and Head are the trail's last event and its hash, as read.
	HeadID  int64  `json:"head_event_id"`
	Head    string `json:"head_hash"`
	OK      bool   `json:"ok"`
	Break   Break  `json:"break,omitempty"`
	BadID   int64  `json:"bad_event_id,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// VerifyRun checks one run: each of its events against its own hash, the
// run's sequence (no gap, no reordering, each signature right after the
// event it signs), every link between consecutive events, including the
// links to the events of other runs written in between (the event before
// each of the run's events must carry the hash it names as previous, and the
// event after each one must name its hash), and the runs table against the
// run's run.started and run.ended. It reads the run's events and one more row
// per gap, so that reading one run costs what that run costs; the whole
// chain, and SQLite's own integrity check, stay Verify's (repli verify).
//
// What it cannot see, Verify can: a change to another run's events, or
// events cut from the end of the trail after this run.
func (s *Store) VerifyRun(ctx context.Context, runID int64) (RunVerification, error) {
	v := RunVerification{RunID: runID}
	c, done, err := s.snapshot(ctx, fmt.Sprintf("read events of run %d", runID))
	if err != nil {
		return v, err
	}
	defer done()
	if v.HeadID, v.Head, err = s.head(ctx, c); err != nil {
		return v, err
	}
	r, err := s.runEndOf(ctx, c, runID)
	if err != nil {
		return v, err
	}
	evs, err := s.runEvents(ctx, c, runID)
	if err != nil {
		return v, err
	}
	fail := func(f *finding) (RunVerification, error) {
		v.Break, v.BadID, v.Problem = f.brk, f.id, f.problem
		return v, nil
	}
	if len(evs) == 0 {
		if r.reserved {
			return v, neverStarted(runID)
		}
		return fail(runFinding(BreakTruncated, 0, "run %d is listed, but it has no events left", runID))
	}
	rf, bad, err := s.checkRunChain(ctx, c, runID, evs)
	v.Events = rf.events
	if err != nil {
		return v, err
	}
	if bad != nil {
		return fail(bad)
	}
	last := evs[len(evs)-1]
	v.FirstID, v.LastID, v.LastSeq, v.LastHash = evs[0].id, last.id, rf.lastSeq, last.hash
	if bad := r.checkRun(runID, evs, rf, v.HeadID, s.version >= schemaStartEvent); bad != nil {
		return fail(bad)
	}
	v.OK = true
	return v, nil
}

// runFinding is a finding at one event of the run VerifyRun checks.
func runFinding(brk Break, id int64, format string, a ...any) *finding {
	return &finding{brk: brk, id: id, problem: fmt.Sprintf(format, a...)}
}

// head is the id and hash of the trail's last event, or 0 and "" when empty.
func (s *Store) head(ctx context.Context, c *sql.Conn) (id int64, hash string, err error) {
	if err := c.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&id); err != nil {
		return id, "", fmt.Errorf("read the trail's head: %w", s.explain(err))
	}
	if id > 0 {
		if err := c.QueryRowContext(ctx, `SELECT hash FROM events WHERE id = ?`, id).Scan(&hash); err != nil {
			return id, "", fmt.Errorf("read the trail's head: %w", s.explain(err))
		}
	}
	return id, hash, nil
}

// runEndOf is what the runs table says about run runID.
func (s *Store) runEndOf(ctx context.Context, c *sql.Conn, runID int64) (runEnd, error) {
	startCol := "NULL"
	if s.version >= schemaStartEvent {
		startCol = "start_event_id"
	}
	var r runEnd
	var start sql.NullInt64
	row, err := scanRun(prefixScanner{c.QueryRowContext(ctx, `SELECT ended_at IS NOT NULL, coalesce(end_event_id, 0), coalesce(end_hash, ''), `+startCol+`, `+runColumns+` FROM runs WHERE id = ?`, runID),
		[]any{&r.ended, &r.eventID, &r.hash, &start}})
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("run %d: %w in %s", runID, ErrNoRun, s.path)
	}
	if err != nil {
		return r, fmt.Errorf("read run %d: %w", runID, s.explain(err))
	}
	r.run, r.outcome, r.row = row.ID, string(row.Outcome), row
	r.reserved = s.version >= schemaStartEvent && !start.Valid
	r.startID = start.Int64
	return r, nil
}

// runEvents are the run's rows, in chain order: the index on (run_id, seq)
// finds them, signatures (negative seq) included.
func (s *Store) runEvents(ctx context.Context, c *sql.Conn, runID int64) ([]storedEvent, error) {
	rows, err := c.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE run_id = ? ORDER BY id`, runID)
	if err != nil {
		return nil, fmt.Errorf("read events of run %d: %w", runID, s.explain(err))
	}
	var evs []storedEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read event: %w", err)
		}
		evs = append(evs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events of run %d: %w", runID, s.explain(err))
	}
	return evs, nil
}

// runFacts is what VerifyRun's pass over a run's events remembers.
type runFacts struct {
	events       int64       // events that verified, signatures included
	lastSeq      int64       // the run's last sequence number
	first, ended storedEvent // its event #1 and its last run.ended
}

// checkRunChain checks each of the run's events against its own hash, the
// run's sequence, and its links to the events before and after it.
func (s *Store) checkRunChain(ctx context.Context, c *sql.Conn, runID int64, evs []storedEvent) (runFacts, *finding, error) {
	var rf runFacts
	var prevSeq int64
	for i, e := range evs {
		if e.hashAs(e.id) != e.hash {
			return rf, runFinding(BreakChanged, e.id, "%s was changed after it was written: its content no longer matches its hash", e), nil
		}
		sig := e.kind == KindSignature
		switch {
		case sig && (i == 0 || evs[i-1].id != e.id-1 || prevSeq != -e.seq):
			return rf, runFinding(BreakReordered, e.id, "%s is not right after the event it signs (#%d of run %d)", e, -e.seq, runID), nil
		case !sig && e.seq != rf.lastSeq+1:
			if e.seq > rf.lastSeq+1 {
				return rf, runFinding(BreakMissing, e.id, "run %d events #%d to #%d are missing before %s", runID, rf.lastSeq+1, e.seq-1, e), nil
			}
			return rf, runFinding(BreakReordered, e.id, "%s comes after #%d of its run: events were reordered or duplicated", e, rf.lastSeq), nil
		}
		if bad, err := s.checkRunLinks(ctx, c, evs, i); bad != nil || err != nil {
			return rf, bad, err
		}
		rf.events++
		if sig {
			continue
		}
		if e.kind == KindFinding && rf.ended.id == 0 {
			return rf, runFinding(BreakInserted, e.id, "%s is a finding written before run %d ended: findings are only added to an ended run", e, runID), nil
		}
		prevSeq, rf.lastSeq = e.seq, e.seq
		switch {
		case e.seq == 1:
			rf.first = e
		case e.kind == "run.ended":
			rf.ended = e
		}
	}
	return rf, nil, nil
}

// checkRunLinks checks the links of evs[i] to the event before it, in the
// run or another run's, and to the event after it when that belongs to
// another run.
func (s *Store) checkRunLinks(ctx context.Context, c *sql.Conn, evs []storedEvent, i int) (*finding, error) {
	e := evs[i]
	if i > 0 && evs[i-1].id == e.id-1 {
		if e.prevHash != evs[i-1].hash {
			return runFinding(BreakChanged, e.id, "%s does not follow %s: the chain is broken between them", e, evs[i-1]), nil
		}
	} else if e.id == 1 {
		if e.prevHash != GenesisHash {
			return runFinding(BreakChanged, e.id, "%s does not start the chain as written", e), nil
		}
	} else {
		p, err := s.eventAt(ctx, c, e.id-1)
		if err != nil {
			return nil, err
		}
		switch {
		case p == nil:
			return runFinding(BreakMissing, e.id-1, "event %d, before %s, is missing", e.id-1, e), nil
		case p.hash != e.prevHash:
			return runFinding(BreakChanged, p.id, "%s was changed or replaced: %s was written after an event with another hash", p, e), nil
		}
	}
	if i+1 == len(evs) || evs[i+1].id != e.id+1 {
		n, err := s.eventAt(ctx, c, e.id+1)
		if err != nil {
			return nil, err
		}
		if n != nil && n.prevHash != e.hash {
			return runFinding(BreakChanged, e.id, "%s is not the event %s was written after", e, n), nil
		}
	}
	return nil, nil
}

// checkRun holds the runs table's row against the run's events, as Verify
// does; headID is the trail's last event.
func (r runEnd) checkRun(runID int64, evs []storedEvent, rf runFacts, headID int64, exactStart bool) *finding {
	// The run's last event of its own: not a signature, nor a finding
	// added after the end (checkRunChain refused one before it).
	lastEv := evs[len(evs)-1]
	for i := len(evs) - 1; i > 0 && (lastEv.kind == KindSignature || lastEv.kind == KindFinding); i-- {
		lastEv = evs[i-1]
	}
	first, ended := rf.first, rf.ended
	switch {
	case r.reserved:
		return runFinding(BreakIndex, first.id, "run %d has events, but the runs table says it never started, which hides it from history: the runs table was edited", runID)
	case !r.ended && lastEv.kind == "run.ended":
		return runFinding(BreakIndex, lastEv.id, "run %d ended at event %d, but the runs table says it is still running: the runs table was edited", runID, lastEv.id)
	case r.ended && r.eventID == 0 && lastEv.kind != "run.ended":
		return runFinding(BreakTruncated, lastEv.id, "run %d is recorded as %s, but its last event is #%d (%s), not run.ended", runID, r.outcome, lastEv.seq, lastEv.kind)
	case r.ended && r.eventID != 0 && ended.id != r.eventID:
		if r.eventID > headID {
			return runFinding(BreakTruncated, headID+1, "the trail was cut: it ends at event %d, but run %d was recorded as ending at event %d (hash %s)", headID, runID, r.eventID, r.hash)
		}
		return runFinding(BreakTruncated, r.eventID, "run %d was recorded as ending at event %d, but that event is not its run.ended", runID, r.eventID)
	case r.ended && r.eventID != 0 && ended.hash != r.hash:
		return runFinding(BreakChanged, r.eventID, "run %d was recorded as ending at event %d with hash %s, but event %d now has hash %s: the trail was rewritten and its hashes recomputed", runID, r.eventID, r.hash, r.eventID, ended.hash)
	case r.ended && r.eventID != 0 && lastEv.id > r.eventID:
		return runFinding(BreakInserted, lastEv.id, "%s was added after run %d ended at event %d", lastEv, runID, r.eventID)
	}
	if f := r.checkStart(first, exactStart); f != nil {
		return runFinding(f.brk, f.id, "%s", f.problem)
	}
	if f := r.checkEnd(ended); f != nil {
		return runFinding(f.brk, f.id, "%s", f.problem)
	}
	return nil
}
