package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestLeaseStateReadOnly: a watcher on a read-only trail sees who drives,
// then that the driver went quiet, then that the lease was released; and
// reading the state takes nothing.
func TestLeaseStateReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	a := console(t, path, leaseT0)
	id := createRun(t, a, "erp")
	appendAll(t, a, id, 0, failoverEvents("")[:2])
	lease, err := a.AcquireLease(ctx, id, alice)
	if err != nil {
		t.Fatal(err)
	}

	w, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	w.now = func() time.Time { return leaseT0.Add(5 * time.Second) }
	st, held, err := w.LeaseState(ctx, id)
	if err != nil || !held || st.Stale || st.Holder.Operator != "alice" || st.Holder.Host != "bastion-1" {
		t.Fatalf("fresh lease: %+v held=%v err=%v", st, held, err)
	}

	w.now = func() time.Time { return leaseT0.Add(LeaseStaleAfter + 12*time.Second) }
	st, held, err = w.LeaseState(ctx, id)
	if err != nil || !held || !st.Stale || st.Why != "no heartbeat for 42s" || !st.Heartbeat.Equal(leaseT0) {
		t.Fatalf("quiet driver: %+v held=%v err=%v", st, held, err)
	}

	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	st, held, err = w.LeaseState(ctx, id)
	if err != nil || held || st != nil {
		t.Fatalf("released lease: %+v held=%v err=%v", st, held, err)
	}
}
