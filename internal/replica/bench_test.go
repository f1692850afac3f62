package replica

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkGateWait is the wait at a gate: the events of a step or two
// (10 appends, one transaction each) then WaitCaughtUp, to a directory.
func BenchmarkGateWait(b *testing.B) {
	tr := newTrail(b)
	sc := startSidecar(b, tr, "file://"+filepath.Join(b.TempDir(), "replica"), Options{})
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		tr.steps(10)
		b.StartTimer()
		if _, err := sc.WaitCaughtUp(ctx, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestore is "trail lost" to "restored" at the other site, for a
// trail of 1,000 events, from a directory.
func BenchmarkRestore(b *testing.B) {
	tr := newTrail(b)
	url := "file://" + filepath.Join(b.TempDir(), "replica")
	sc := startSidecar(b, tr, url, Options{})
	tr.steps(999)
	if _, err := sc.WaitCaughtUp(context.Background(), time.Minute); err != nil {
		b.Fatal(err)
	}
	sc.Close()
	dir := b.TempDir()
	o := Options{Binary: litestreamBin(b)}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := Restore(context.Background(), url, filepath.Join(dir, fmt.Sprint(i), "audit.db"), o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShippedUnasked is how long an event takes to reach the replica
// when nobody waits for it: Litestream's own pace (1s sync interval).
func BenchmarkShippedUnasked(b *testing.B) {
	tr := newTrail(b)
	sc := startSidecar(b, tr, "file://"+filepath.Join(b.TempDir(), "replica"), Options{PollInterval: time.Hour})
	ctx := context.Background()
	if _, err := sc.WaitCaughtUp(ctx, time.Minute); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		tr.steps(1)
		for {
			l, err := sc.Lag(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if l.CaughtUp {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
