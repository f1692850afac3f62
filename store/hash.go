package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"
)

// eventHash is SHA-256 over the previous hash, a newline, and a canonical
// JSON array of the event's stored columns:
//
//	[id,run_id,seq,"at","kind","step","body"]
//
// Any change to a column, to the order, or a missing event breaks the chain
// from that event on. The array is exactly what encoding/json's Marshal of
// []any{id, runID, seq, at, kind, step, body} produces (how trails were
// hashed first, and how they still verify); it is written here without
// reflection, which made three quarters of verify's hashing cost.
// TestCanonicalIsJSONMarshal holds the two to the same bytes.
func eventHash(prev string, id, runID, seq int64, at, kind, step, body string) string {
	var sum [sha256.Size]byte
	hashInto(&sum, make([]byte, 0, 128+len(prev)+len(at)+len(kind)+len(step)+len(body)), prev, id, runID, seq, at, kind, step, body)
	return hex.EncodeToString(sum[:])
}

// hashInto is eventHash into sum, building the input in buf (reused by
// callers that hash many events).
func hashInto(sum *[sha256.Size]byte, buf []byte, prev string, id, runID, seq int64, at, kind, step, body string) []byte {
	buf = append(buf[:0], prev...)
	buf = append(buf, '\n')
	buf = canonical(buf, id, runID, seq, at, kind, step, body)
	*sum = sha256.Sum256(buf)
	return buf
}

// canonical appends the JSON array of an event's columns to dst.
func canonical(dst []byte, id, runID, seq int64, at, kind, step, body string) []byte {
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, id, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, runID, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, seq, 10)
	for _, s := range [...]string{at, kind, step, body} {
		dst = append(dst, ',')
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

// jsonSafe marks the ASCII bytes encoding/json writes as they are (its
// htmlSafeSet: HTML escaping is on in json.Marshal).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = true
	}
	for _, b := range `"\<>&` {
		t[b] = false
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as encoding/json.Marshal writes a string:
// quotes, backslash escapes for " \ \b \f \n \r \t, \u00XX for other
// control bytes and for < > &, \ufffd for each byte of invalid UTF-8, and
// \u2028 \u2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// selfHashed says, for each event, whether its hash is the one it would
// have as written at its own id after its own prev_hash: the part of
// verification that needs no other event, done on every core. Each row
// stores its prev_hash, so the events of a batch are independent; the
// order-dependent checks (the link to the event before, the run's
// sequence) stay with the caller.
func selfHashed(evs []storedEvent, workers int) []bool {
	ok := make([]bool, len(evs))
	if workers < 1 {
		workers = 1
	}
	chunk := (len(evs) + workers - 1) / workers
	if chunk < 256 {
		chunk = 256
	}
	var wg sync.WaitGroup
	for lo := 0; lo < len(evs); lo += chunk {
		hi := min(lo+chunk, len(evs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sum [sha256.Size]byte
			var want [sha256.Size * 2]byte
			buf := make([]byte, 0, 1024)
			for i := lo; i < hi; i++ {
				e := &evs[i]
				buf = hashInto(&sum, buf, e.prevHash, e.id, e.run, e.seq, e.at, e.kind, e.step, e.body)
				hex.Encode(want[:], sum[:])
				ok[i] = string(want[:]) == e.hash
			}
		}()
	}
	wg.Wait()
	return ok
}

// chainReader reads the events of the trail in order and checks each
// one's own hash (selfHashed) ahead of the caller, on the other cores: its
// sources (see segmentReader) step SQLite through the rows, the hashing of
// a batch runs in parallel, and the caller sees the events in id order with
// the verdict on their hash. Close stops it early.
type chainReader struct {
	out  chan checkedBatch
	done chan struct{}
	// free takes back the batches the caller is done with, for the
	// sources to fill again (see newBatch): a trail of a million events
	// would otherwise be 150 MB of batches for the collector.
	free chan []storedEvent
	wait sync.WaitGroup
	err  error // set before out is closed

	cur checkedBatch
	i   int
}

type checkedBatch struct {
	evs []storedEvent
	ok  []bool
}

// chainBatch is how many ids a segment spans: the events read and hashed
// together.
const chainBatch = 2048

// chainSource sends batches of events, in order, until it has no more or
// send says to stop (false); it fills the batches newBatch gives it.
type chainSource func(newBatch func() []storedEvent, send func([]storedEvent) bool) error

// newBatch is an empty batch: one the caller is done with, or a new one.
func (r *chainReader) newBatch() []storedEvent {
	select {
	case b := <-r.free:
		return b[:0]
	default:
		return make([]storedEvent, 0, chainBatch)
	}
}

// newChainReader takes batch k from source k mod len(sources): each
// source reads every len(sources)-th batch of the chain.
func newChainReader(sources []chainSource, workers int) *chainReader {
	r := &chainReader{out: make(chan checkedBatch, 4), done: make(chan struct{}), free: make(chan []storedEvent, 8)}
	reads := make([]chan []storedEvent, len(sources))
	errs := make([]error, len(sources))
	r.wait.Add(len(sources) + 1)
	for i, src := range sources {
		reads[i] = make(chan []storedEvent, 2)
		go func() {
			defer r.wait.Done()
			defer close(reads[i])
			errs[i] = src(r.newBatch, func(b []storedEvent) bool {
				select {
				case reads[i] <- b:
					return true
				case <-r.done:
					return false
				}
			})
		}()
	}
	go func() {
		defer r.wait.Done()
		defer close(r.out)
		for k := 0; ; k++ {
			i := k % len(reads)
			evs, ok := <-reads[i]
			if !ok {
				// Source i has no batch k: the chain is read, unless it
				// stopped on an error.
				r.err = errs[i]
				return
			}
			select {
			case r.out <- checkedBatch{evs, selfHashed(evs, workers)}:
			case <-r.done:
				return
			}
		}
	}()
	return r
}

// Next moves to the next event; false at the end or on an error (Err).
func (r *chainReader) Next() bool {
	r.i++
	for r.i >= len(r.cur.evs) {
		if cap(r.cur.evs) > 0 {
			// Event returns copies: nothing refers to this batch any more.
			select {
			case r.free <- r.cur.evs:
			default:
			}
			r.cur.evs = nil
		}
		b, ok := <-r.out
		if !ok {
			return false
		}
		r.cur, r.i = b, 0
	}
	return true
}

// Event is the current event, and whether its hash is its own.
func (r *chainReader) Event() (storedEvent, bool) { return r.cur.evs[r.i], r.cur.ok[r.i] }

// Err is the error that ended the reading, once Next said false.
func (r *chainReader) Err() error { return r.err }

// Close stops the reading and waits for it: the rows may be closed after.
func (r *chainReader) Close() {
	select {
	case <-r.done:
	default:
		close(r.done)
	}
	for range r.out {
	}
	r.wait.Wait()
}

// integrityResult is what PRAGMA integrity_check found, when it is done.
type integrityResult struct {
	done    chan struct{}
	problem string
	err     error
	path    string
}

// integrityAside runs PRAGMA integrity_check (see integrityCheck) on a
// connection of its own while Verify checks the chain on another: each
// reads the whole file, and on a trail of a million events the check alone
// took a fifth of verify's time. It reads its own snapshot; what it judges
// is the file, not the chain.
func (s *Store) integrityAside(ctx context.Context) *integrityResult {
	r := &integrityResult{done: make(chan struct{}), path: s.path}
	go func() {
		defer close(r.done)
		c, err := s.db.Conn(ctx)
		if err != nil {
			r.err = fmt.Errorf("check the database file: %w", s.explain(err))
			return
		}
		defer c.Close()
		r.problem, r.err = integrityCheck(ctx, c, "integrity_check")
	}()
	return r
}

// verdict waits for the integrity check: a damaged file is reported as
// such, whatever the chain check found (a damaged file may fail it for
// that reason alone); an error of the check is Verify's error.
func (r *integrityResult) verdict(v Verification, err error) (Verification, error) {
	<-r.done
	switch {
	case r.err != nil:
		return Verification{RunID: v.RunID, Head: GenesisHash}, r.err
	case r.problem != "":
		return Verification{RunID: v.RunID, Head: GenesisHash, Break: BreakDamaged, Problem: damagedAdvice(r.path, r.problem)}, nil
	}
	return v, err
}
