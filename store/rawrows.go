package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Reading the chain is what bounds Verify: SQLite steps through the rows on
// one thread and the driver copies every column out, while the hashing
// already runs on every core. So Verify reads the events through the driver
// itself (Conn.Raw: database/sql's Rows.Scan — a lock, a context check and a
// conversion per column — cost about a third of the reading), and on
// several connections at once, each taking every readers-th segment of ids
// (segment i is ids i·chainBatch+1 to (i+1)·chainBatch): the chain reader
// takes the segments back in order, so the chain is checked in id order as
// before.
//
// The first reader uses the snapshot Verify holds (the runs table was read
// in it); the others read segments of ids up to that snapshot's last event
// in read transactions of their own. That is the same set of rows: events
// are append-only and ids only grow, so an event a console appends
// meanwhile has a larger id than any of them, and is not read.

// errNoQueryer: the database driver cannot be queried directly (a store
// only ever uses go-sqlite3, which can).
var errNoQueryer = errors.New("the database driver does not answer queries directly")

// chainSegments are the id ranges of the trail's events, in order: ids up
// to head, in segments of chainBatch ids; the first one also takes any id
// below 1 (an event slipped in with id 0 is seen, and breaks the chain).
func chainSegments(head int64) [][2]int64 {
	if head <= chainBatch {
		return [][2]int64{{math.MinInt64, head}}
	}
	n := (head + chainBatch - 1) / chainBatch
	segs := make([][2]int64, n)
	for i := range segs {
		lo, hi := int64(i)*chainBatch, int64(i+1)*chainBatch
		if i == 0 {
			lo = math.MinInt64
		}
		segs[i] = [2]int64{lo, min(hi, head)}
	}
	return segs
}

// segmentReader reads segments r, r+readers, … of segs on connection c,
// sending each as one batch (empty when no event has an id in it).
func segmentReader(ctx context.Context, c *sql.Conn, segs [][2]int64, r, readers int) chainSource {
	return func(newBatch func() []storedEvent, send func([]storedEvent) bool) error {
		return c.Raw(func(dc any) error {
			q, ok := dc.(driver.QueryerContext)
			if !ok {
				return errNoQueryer
			}
			dest := make([]driver.Value, len(eventColumnNames))
			for i := r; i < len(segs); i += readers {
				batch, err := readSegment(ctx, q, segs[i], newBatch(), dest)
				if err != nil {
					return err
				}
				if !send(batch) {
					return nil
				}
			}
			return nil
		})
	}
}

// readSegment appends the events with ids in (seg[0], seg[1]] to batch, in
// id order.
func readSegment(ctx context.Context, q driver.QueryerContext, seg [2]int64, batch []storedEvent, dest []driver.Value) ([]storedEvent, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id > ? AND id <= ? ORDER BY id`,
		[]driver.NamedValue{{Ordinal: 1, Value: seg[0]}, {Ordinal: 2, Value: seg[1]}})
	if err != nil {
		return batch, err
	}
	defer rows.Close()
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return batch, nil
			}
			return batch, err
		}
		batch = append(batch, storedEvent{})
		if err := fillEvent(&batch[len(batch)-1], dest); err != nil {
			return batch, err
		}
	}
}

// fillEvent converts one row of eventColumns as database/sql's Rows.Scan
// converts into *int64 and *string: text and blobs as their bytes, numbers
// written out in decimal (floats as strconv's shortest 'g'), numbers read
// from text with strconv.ParseInt; NULL is an error. The bytes hashed are
// those scanEvent would give.
func fillEvent(e *storedEvent, v []driver.Value) error {
	ints := [...]*int64{&e.id, &e.run, &e.seq}
	for i, p := range ints {
		n, ok := v[i].(int64)
		if !ok {
			s, err := asText(v[i], eventColumnNames[i])
			if err != nil {
				return err
			}
			if n, err = strconv.ParseInt(s, 10, 64); err != nil {
				return fmt.Errorf("converting column %s, %q, to an integer: %w", eventColumnNames[i], s, err)
			}
		}
		*p = n
	}
	texts := [...]*string{&e.at, &e.kind, &e.step, &e.body, &e.prevHash, &e.hash}
	for i, p := range texts {
		if s, ok := v[3+i].(string); ok {
			*p = s
			continue
		}
		s, err := asText(v[3+i], eventColumnNames[3+i])
		if err != nil {
			return err
		}
		*p = s
	}
	return nil
}

var eventColumnNames = [...]string{"id", "run_id", "seq", "at", "kind", "step", "body", "prev_hash", "hash"}

// asText is a driver value as database/sql writes it into a string.
func asText(v driver.Value, col string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", fmt.Errorf("converting NULL in column %s is unsupported", col)
	}
	return "", fmt.Errorf("column %s holds an unsupported %T", col, v)
}
