package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// eventSource gives the rows of an events query one by one, into e; false
// at the end.
type eventSource func(e *storedEvent) (bool, error)

// scanEvents runs query (it selects eventColumns) on c and hands its rows
// to read, through the driver itself (database/sql's Conn.Raw): Verify
// reads every event of the trail, and database/sql's Rows.Scan — a lock,
// a conversion through reflection-guarded assignment and a context check
// per column of every row — cost about a third of reading them. The
// values are converted as Rows.Scan would into int64 and string (see
// fillEvent), so the bytes hashed are the same.
//
// c may not be used by read (the driver connection is held meanwhile).
func scanEvents(ctx context.Context, c *sql.Conn, query string, read func(eventSource) error) error {
	var viaSQL bool
	err := c.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			viaSQL = true
			return nil
		}
		rows, err := q.QueryContext(ctx, query, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, 9)
		return read(func(e *storedEvent) (bool, error) {
			if err := rows.Next(dest); err != nil {
				if errors.Is(err, io.EOF) {
					return false, nil
				}
				return false, err
			}
			return true, fillEvent(e, dest)
		})
	})
	if !viaSQL {
		return err
	}
	// A driver without QueryerContext: database/sql's own way.
	rows, err := c.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	err = read(func(e *storedEvent) (bool, error) {
		if !rows.Next() {
			return false, rows.Err()
		}
		var err error
		*e, err = scanEvent(rows)
		return true, err
	})
	if err != nil {
		return err
	}
	return rows.Err()
}

// fillEvent converts one row of eventColumns as database/sql's Rows.Scan
// converts into *int64 and *string: text and blobs as their bytes, numbers
// written out in decimal (floats as strconv's shortest 'g'), numbers read
// from text with strconv.ParseInt; NULL is an error.
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
