package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/repli-dr/repli/engine"
)

func states(t *testing.T, l *Lab, site string) map[string]engine.DomainState {
	t.Helper()
	doms, err := l.Site(site).ListDomains(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]engine.DomainState{}
	for _, d := range doms {
		out[d.Name] = d.State
	}
	return out
}

// TestPersistResumesWhereItWas changes a persisted lab, abandons it without
// closing anything (as kill -9 does), and loads a new lab from its files:
// every change is there, including an undefine and a snapshot, and through
// several compactions of the change log.
func TestPersistResumesWhereItWas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db.sim-run-1.json")
	a := NewLab(1, 1e6)
	const n = 300
	for i := range n {
		a.AddDomain("primary", fmt.Sprintf("vm-%03d", i), engine.StateRunning)
	}
	a.AddDomain("dr", "vm-gone", engine.StateShutoff)
	if err := a.Persist(path, false); err != nil {
		t.Fatal(err)
	}
	p := a.Site("primary")
	// 3 changes per domain, more than a compaction's worth in total.
	for round := range 3 {
		for i := range n {
			name := fmt.Sprintf("vm-%03d", i)
			var err error
			switch round {
			case 0:
				err = p.Suspend(ctx, name)
			case 1:
				err = p.Resume(ctx, name)
			case 2:
				if i%2 == 0 {
					err = p.Suspend(ctx, name)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := p.Snapshot(ctx, "vm-001", engine.SnapshotCreate, "before"); err != nil {
		t.Fatal(err)
	}
	if err := a.Site("dr").Undefine(ctx, "vm-gone"); err != nil {
		t.Fatal(err)
	}
	if err := p.SetAutostart(ctx, "vm-002", true); err != nil {
		t.Fatal(err)
	}
	if a.logged >= a.compactAt || a.compactAt == 0 {
		t.Fatalf("change log of %d lines, compaction at %d", a.logged, a.compactAt)
	}

	b := NewLab(1, 1e6)
	if err := b.Persist(path, true); err != nil {
		t.Fatal(err)
	}
	got := states(t, b, "primary")
	if len(got) != n {
		t.Fatalf("resumed lab has %d domains at primary, want %d", len(got), n)
	}
	for i := range n {
		want := engine.StateRunning
		if i%2 == 0 {
			want = engine.StatePaused
		}
		if name := fmt.Sprintf("vm-%03d", i); got[name] != want {
			t.Fatalf("%s is %s after resume, want %s", name, got[name], want)
		}
	}
	if dr := states(t, b, "dr"); len(dr) != 0 {
		t.Fatalf("undefined domain came back: %v", dr)
	}
	if !b.Site("primary").Autostart("vm-002") {
		t.Fatal("autostart lost")
	}
	if err := b.Site("primary").Snapshot(ctx, "vm-001", engine.SnapshotRevert, "before"); err != nil {
		t.Fatalf("snapshot lost: %v", err)
	}
	// A new run (not resuming) starts from its own lab and drops the old log.
	c := NewLab(1, 1e6)
	c.AddDomain("primary", "vm-new", engine.StateShutoff)
	if err := c.Persist(path, false); err != nil {
		t.Fatal(err)
	}
	d := NewLab(1, 1e6)
	if err := d.Persist(path, true); err != nil {
		t.Fatal(err)
	}
	if got := states(t, d, "primary"); len(got) != 1 || got["vm-new"] != engine.StateShutoff {
		t.Fatalf("after a new run: %v", got)
	}
}

// TestPersistIgnoresATornLastLine: a crash in the middle of writing a
// change leaves a line without its newline; the change was seen by no one.
func TestPersistIgnoresATornLastLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	a := NewLab(1, 1e6)
	a.AddDomain("primary", "vm-a", engine.StateRunning)
	if err := a.Persist(path, false); err != nil {
		t.Fatal(err)
	}
	if err := a.Site("primary").Suspend(context.Background(), "vm-a"); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path+".log", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"site":"primary","name":"vm-a","domain":{"state":"runn`)
	f.Close()
	b := NewLab(1, 1e6)
	if err := b.Persist(path, true); err != nil {
		t.Fatal(err)
	}
	if got := states(t, b, "primary"); got["vm-a"] != engine.StatePaused {
		t.Fatalf("vm-a is %s, want paused", got["vm-a"])
	}
}

// BenchmarkChange is the cost of one state change of a persisted lab of
// 500 and 5,000 domains: it should not grow with the lab.
func BenchmarkChange(b *testing.B) {
	for _, n := range []int{500, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			l := NewLab(1, 1e6)
			for i := range n {
				l.AddDomain("primary", fmt.Sprintf("vm-%04d", i), engine.StateRunning)
			}
			if err := l.Persist(filepath.Join(b.TempDir(), "state.json"), false); err != nil {
				b.Fatal(err)
			}
			p := l.Site("primary")
			i := 0
			for b.Loop() {
				name := fmt.Sprintf("vm-%04d", i%n)
				if err := p.Suspend(ctx, name); err != nil {
					b.Fatal(err)
				}
				if err := p.Resume(ctx, name); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
