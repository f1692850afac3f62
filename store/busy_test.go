package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestBusyToldFromBroken: the engine retries a write that failed on a busy
// trail and stops for anything else, so the store's errors must say which.
// Locked → IsBusy and ErrLocked; a write given an expired context → the
// context's error (give outcome writes a context of their own); a damaged
// file → ErrDamaged, not busy (TestOpenRefusesDamagedFile, TestAppendFailsWhenDiskFull
// cover the others).
func TestBusyToldFromBroken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := open(ctx, path, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents("")[:3])

	c, err := plainDB(t, path).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	err = s.Append(ctx, nextEvent(id, 4))
	if !IsBusy(err) || !errors.Is(err, ErrLocked) || errors.Is(err, ErrDamaged) {
		t.Errorf("Append on a locked trail = %v; want busy (ErrLocked)", err)
	}
	// The "context deadline exceeded" ×20: outcome writes given the
	// action's context, already past its deadline. Not busy, not broken:
	// the caller's own context.
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	err = s.Append(expired, nextEvent(id, 4))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || IsBusy(err) || errors.Is(err, ErrDamaged) {
		t.Errorf("Append with an expired context = %v; want context.DeadlineExceeded", err)
	}
	c.ExecContext(ctx, "ROLLBACK")
	c.Close()
	if err := s.Append(ctx, nextEvent(id, 4)); err != nil {
		t.Fatalf("Append after the lock went: %v", err)
	}
}
