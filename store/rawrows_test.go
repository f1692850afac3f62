package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// readChain reads the events of the trail at path with readers segment
// readers, as Verify does, and returns them in the order the chain reader
// gives them, with its hash verdicts.
func readChain(t *testing.T, s *Store, readers int) ([]storedEvent, []bool) {
	t.Helper()
	ctx := context.Background()
	c, done, err := s.snapshot(ctx, "read")
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	head, _, err := s.head(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	segs := chainSegments(head)
	var sources []chainSource
	for r := range readers {
		conn := c
		if r > 0 {
			if conn, err = s.db.Conn(ctx); err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
		}
		sources = append(sources, segmentReader(ctx, conn, segs, r, readers))
	}
	cr := newChainReader(sources, 2)
	defer cr.Close()
	var evs []storedEvent
	var ok []bool
	for cr.Next() {
		e, o := cr.Event()
		evs, ok = append(evs, e), append(ok, o)
	}
	if err := cr.Err(); err != nil {
		t.Fatal(err)
	}
	return evs, ok
}

// TestSegmentReadersGiveTheChainInOrder: whatever the number of readers,
// the chain reader gives exactly the rows of "ORDER BY id" read through
// database/sql, in that order, with the same verdicts on their hashes:
// across segment boundaries, with ids missing (a whole segment of them
// too), and with forged events at ids 0 and -3 and one past a boundary.
func TestSegmentReadersGiveTheChainInOrder(t *testing.T) {
	t.Parallel()
	s, path := openTemp(t)
	genTrail(t, s, 9, 1000) // 9,000 events: five segments
	s.Close()
	a := attack(t, path)
	a.exec("DELETE FROM events WHERE id BETWEEN 2040 AND 2050",
		"DELETE FROM events WHERE id > 4096 AND id <= 6144", // segment 3, all of it
		"UPDATE events SET body = 'changed' WHERE id = 7001")
	a.insert(0, 1, 0, "forged", "{}", GenesisHash, true)
	a.insert(-3, 1, 0, "forged", "{}", GenesisHash, false)
	a.insert(9001, 9, 1001, "forged", "{}", "x", false)
	a.db.Close()

	ctx := context.Background()
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	rows, err := ro.db.QueryContext(ctx, `SELECT `+eventColumns+` FROM events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var want []storedEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	rows.Close()
	if len(want) != 9000-11-2048+3 {
		t.Fatalf("the attacked trail has %d events", len(want))
	}
	for readers := 1; readers <= 4; readers++ {
		got, ok := readChain(t, ro, readers)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d readers: %d events, not the %d of ORDER BY id in that order", readers, len(got), len(want))
			continue
		}
		for i, e := range got {
			if self := e.hashAs(e.id) == e.hash; ok[i] != self {
				t.Errorf("%d readers: %s: hash verdict %v, want %v", readers, e, ok[i], self)
			}
		}
	}
}

// TestFillEventConvertsAsScan: values of other storage classes than a
// repli trail writes (an attacker's edit) are read through the driver into
// the same int64 and string as database/sql's Scan gives, or refused as
// Scan refuses them, so the bytes hashed are the same either way.
func TestFillEventConvertsAsScan(t *testing.T) {
	t.Parallel()
	s, path := openTemp(t)
	genTrail(t, s, 1, 10)
	s.Close()
	a := attack(t, path)
	// A table without column affinity keeps whatever is stored in it.
	a.exec(`CREATE TABLE ev3 (id INTEGER PRIMARY KEY, run_id, seq, at, kind, step, body, prev_hash, hash)`,
		"INSERT INTO ev3 SELECT * FROM events", "DROP TABLE events", "ALTER TABLE ev3 RENAME TO events",
		"UPDATE events SET body = CAST(body AS BLOB) WHERE id = 2",
		"UPDATE events SET at = 20261130 WHERE id = 3",
		"UPDATE events SET kind = 1.5 WHERE id = 4",
		"UPDATE events SET step = 1e300 WHERE id = 5",
		"UPDATE events SET run_id = '1' WHERE id = 6",
		"UPDATE events SET seq = CAST('7' AS BLOB) WHERE id = 7",
		"UPDATE events SET seq = 'seven' WHERE id = 8",
		"UPDATE events SET body = NULL WHERE id = 9",
		"UPDATE events SET seq = 2.5 WHERE id = 10")
	ctx := context.Background()
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for id := int64(1); id <= 10; id++ {
		want, wantErr := ro.eventAt(ctx, ro.db, id) // database/sql's Scan
		conn, err := ro.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []storedEvent
		read := segmentReader(ctx, conn, [][2]int64{{id - 1, id}}, 0, 1)
		gotErr := read(func() []storedEvent { return nil }, func(b []storedEvent) bool { got = b; return true })
		conn.Close()
		switch {
		case wantErr != nil || gotErr != nil:
			if wantErr == nil || gotErr == nil {
				t.Errorf("event %d: Scan says %v, the driver read %v", id, wantErr, gotErr)
			}
		case len(got) != 1 || !reflect.DeepEqual(got[0], *want):
			t.Errorf("event %d: read %+v, Scan gives %+v", id, got, *want)
		}
	}
	// Verify stops at the first row Scan would refuse too, naming it.
	v, err := ro.Verify(ctx, 0)
	if err == nil || !strings.Contains(err.Error(), `column seq, "seven"`) {
		t.Errorf("verify: %+v, %v; want the error reading event 8", v, err)
	}
}

// TestVerifyFindsAnEditInALaterSegment: on a trail read by several
// readers, an event changed far from the first segment is named.
func TestVerifyFindsAnEditInALaterSegment(t *testing.T) {
	t.Parallel()
	s, path := openTemp(t)
	genTrail(t, s, 10, 1000)
	s.Close()
	ctx := context.Background()
	for _, id := range []int64{2048, 2049, 6999, 10000} {
		p := t.TempDir() + "/audit.db"
		copyFile(t, path, p)
		a := attack(t, p)
		a.exec(fmt.Sprintf("UPDATE events SET body = body || ' ' WHERE id = %d", id))
		a.db.Close()
		ro, err := OpenReadOnly(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ro.Verify(ctx, 0)
		ro.Close()
		if err != nil || v.OK || v.Break != BreakChanged || v.BadID != id || v.Events != id-1 {
			t.Errorf("event %d changed: %+v, %v", id, v, err)
		}
	}
}
