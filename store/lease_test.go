package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine"
)

// leaseT0 is when leases are taken in these tests, in local time so that
// the "since 03:12:04" in messages does not depend on the time zone.
var leaseT0 = time.Date(2025, 11, 22, 3, 12, 4, 0, time.Local)

// console is one console's handle on a shared trail, with its own clock.
func console(t *testing.T, path string, at time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.now = func() time.Time { return at }
	return s
}

// alice drives from another machine: her pid cannot be checked from here.
var alice = Holder{Operator: "alice", Host: "bastion-1", PID: 4242, SSHClient: "10.0.0.5 52144 10.0.0.1 22", Console: ""}

func TestLeaseHeldMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	a := console(t, path, leaseT0)
	id := createRun(t, a, "erp")
	if _, err := a.AcquireLease(ctx, id, alice); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		holder Holder
		after  time.Duration
		want   string
	}{
		{"live", Holder{Operator: "bob"}, 2*time.Second + 300*time.Millisecond,
			"run 1 is driven by alice on bastion-1 (pid 4242, from 10.0.0.5) since 03:12:04; last heartbeat 2s ago"},
		{"stale", Holder{Operator: "bob"}, 47 * time.Second,
			"run 1 was driven by alice on bastion-1 (pid 4242, from 10.0.0.5) since 03:12:04; last heartbeat 47s ago; the lease is stale (no heartbeat for 47s) and can be taken over"},
		{"next day", Holder{Operator: "bob"}, 24 * time.Hour,
			"run 1 was driven by alice on bastion-1 (pid 4242, from 10.0.0.5) since 2025-11-22 03:12:04; last heartbeat 24h0m0s ago; the lease is stale (no heartbeat for 24h0m0s) and can be taken over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := console(t, path, leaseT0.Add(tt.after))
			_, err := b.AcquireLease(ctx, id, tt.holder)
			var held *LeaseHeldError
			if !errors.As(err, &held) {
				t.Fatalf("AcquireLease = %v, want *LeaseHeldError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("message\n got %s\nwant %s", err, tt.want)
			}
			if held.RunID != id || held.Holder.Operator != "alice" || held.Holder.SSHClient != alice.SSHClient || !held.Since.Equal(leaseT0) || !held.Heartbeat.Equal(leaseT0) {
				t.Errorf("LeaseHeldError = %+v", held)
			}
		})
	}
}

// deadPID is the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// zombiePID is the pid of a child that has exited but is not reaped yet.
func zombiePID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Wait() })
	for {
		state, _, err := procStat(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if state == 'Z' {
			return cmd.Process.Pid
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLeaseStaleness(t *testing.T) {
	t.Parallel()
	if !procAvailable() {
		skipOrFail(t, "no /proc: pids cannot be checked")
	}
	host, _ := os.Hostname()
	remote := Holder{Operator: "alice", Host: "bastion-1", PID: 4242}
	tests := []struct {
		name      string
		holder    func(t *testing.T) Holder
		after     time.Duration
		tamper    string // SQL run on the lease before it is checked
		wantStale bool
		wantWhy   string
	}{
		{name: "remote, fresh", holder: func(*testing.T) Holder { return remote }, after: 2 * time.Second},
		{name: "remote, heartbeat just inside the window", holder: func(*testing.T) Holder { return remote }, after: LeaseStaleAfter},
		{name: "remote, heartbeat too old", holder: func(*testing.T) Holder { return remote }, after: LeaseStaleAfter + time.Second,
			wantStale: true, wantWhy: "no heartbeat for 31s"},
		{name: "this process", holder: func(*testing.T) Holder { return Holder{Operator: "alice"} }},
		{name: "this process, hung", holder: func(*testing.T) Holder { return Holder{Operator: "alice"} }, after: 45 * time.Second,
			wantStale: true, wantWhy: "no heartbeat for 45s"},
		{name: "process gone", holder: func(t *testing.T) Holder { return Holder{Operator: "alice", Host: host, PID: deadPID(t)} },
			wantStale: true, wantWhy: "no longer exists"},
		{name: "zombie", holder: func(t *testing.T) Holder { return Holder{Operator: "alice", Host: host, PID: zombiePID(t)} },
			wantStale: true, wantWhy: "has exited"},
		{name: "pid reused", holder: func(*testing.T) Holder { return Holder{Operator: "alice"} }, tamper: `UPDATE leases SET proc_start = 'another-boot/17'`,
			wantStale: true, wantWhy: fmt.Sprintf("pid %d on %s now belongs to another process", os.Getpid(), host)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "audit.db")
			a := console(t, path, leaseT0)
			id := createRun(t, a, "erp")
			appendAll(t, a, id, 0, failoverEvents("")[:2])
			h := tt.holder(t)
			if _, err := a.AcquireLease(ctx, id, h); err != nil {
				t.Fatal(err)
			}
			if tt.tamper != "" {
				mustExec(t, a.db, tt.tamper)
			}

			b := console(t, path, leaseT0.Add(tt.after))
			_, err := b.AcquireLease(ctx, id, Holder{Operator: "bob"})
			var held *LeaseHeldError
			if !errors.As(err, &held) {
				t.Fatalf("AcquireLease = %v, want *LeaseHeldError", err)
			}
			t.Log(err)
			if held.Stale != tt.wantStale || !strings.Contains(held.Why, tt.wantWhy) {
				t.Errorf("stale %v (%q), want %v (%q)", held.Stale, held.Why, tt.wantStale, tt.wantWhy)
			}
			if says := strings.Contains(err.Error(), "stale") && strings.Contains(err.Error(), "can be taken over"); says != tt.wantStale {
				t.Errorf("message %q: says stale %v, want %v", err, says, tt.wantStale)
			}

			// A takeover goes through exactly when the lease is stale, and
			// only then leaves a lease.takeover event.
			_, err = b.TakeOverLease(ctx, id, Holder{Operator: "bob"}, "alice unreachable, INC-4711")
			if tt.wantStale && err != nil {
				t.Fatalf("TakeOverLease of a stale lease: %v", err)
			}
			if !tt.wantStale && !errors.As(err, &held) {
				t.Fatalf("TakeOverLease of a live lease = %v, want *LeaseHeldError", err)
			}
			evs, err := b.Events(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if took := len(evs) == 3 && evs[2].Kind() == KindLeaseTakeover; took != tt.wantStale || len(evs) < 2 || len(evs) > 3 {
				t.Errorf("after the takeover attempt the run has %d events (takeover recorded: %v)", len(evs), took)
			}
		})
	}
}

func TestTakeOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	a := console(t, path, leaseT0)
	id := createRun(t, a, "erp")
	la, err := a.AcquireLease(ctx, id, alice)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, a, id, 0, failoverEvents("")[:3])

	b := console(t, path, leaseT0.Add(40*time.Second))
	bob := Holder{Operator: "bob", Host: "bastion-2", PID: 777, SSHClient: "10.0.0.9", Console: "tui"}
	if _, err := b.TakeOverLease(ctx, id, bob, "  "); err == nil || !strings.Contains(err.Error(), "give a reason") {
		t.Fatalf("TakeOverLease without a reason = %v", err)
	}
	lb, err := b.TakeOverLease(ctx, id, bob, "alice's SSH session dropped; INC-4711")
	if err != nil {
		t.Fatal(err)
	}
	if lb.RunID != id || lb.Holder != bob || !lb.Since.Equal(leaseT0.Add(40*time.Second)) {
		t.Errorf("Lease = %+v", lb)
	}

	// The takeover is evidence: in the chain, in the run's sequence.
	evs, err := b.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 {
		t.Fatalf("%d events, want 3 and the takeover", len(evs))
	}
	want := &LeaseTakenOver{
		Meta: engine.Meta{RunID: id, Seq: 4, At: leaseT0.Add(40 * time.Second).UTC()},
		From: alice, FromSince: leaseT0.UTC(), FromHeartbeat: leaseT0.UTC(), Stale: "no heartbeat for 40s",
		To: bob, Reason: "alice's SSH session dropped; INC-4711",
	}
	if got, ok := evs[3].(*LeaseTakenOver); !ok || fmt.Sprint(*got) != fmt.Sprint(*want) {
		t.Errorf("takeover event\n got %+v\nwant %+v", evs[3], want)
	}
	if v, err := b.Verify(ctx, id); err != nil || !v.OK || v.RunCount != 4 {
		t.Fatalf("Verify = %+v, %v", v, err)
	}

	// Alice's console, if it comes back, can do nothing more.
	err = a.Append(ctx, nextEvent(id, 4))
	var held *LeaseHeldError
	if !errors.Is(err, ErrLeaseLost) || !errors.As(err, &held) || held.Holder.Operator != "bob" ||
		!strings.Contains(err.Error(), "this console does not hold the run's lease: run 1 is driven by bob on bastion-2 (pid 777, from 10.0.0.9, console tui)") {
		t.Errorf("Append by the old driver = %v", err)
	}
	if err := la.Heartbeat(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Heartbeat by the old driver = %v", err)
	}
	if err := la.Release(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Release by the old driver = %v", err)
	}
	checkNotWritten(t, b, 4)

	// Bob carries on after the takeover event.
	if err := b.Append(ctx, nextEvent(id, 5)); err != nil {
		t.Fatalf("Append by the new driver: %v", err)
	}
	if err := lb.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lb.Release(ctx); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if err := lb.Heartbeat(ctx); !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "released") {
		t.Errorf("Heartbeat after Release = %v", err)
	}
	// Released: the next console acquires without a takeover.
	c := console(t, path, leaseT0.Add(time.Minute))
	if _, err := c.AcquireLease(ctx, id, Holder{Operator: "carol"}); err != nil {
		t.Fatalf("AcquireLease after Release: %v", err)
	}
}

func TestTakeOverOfFreeRunRecordsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTemp(t)
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents("")[:2])
	if _, err := s.TakeOverLease(ctx, id, Holder{Operator: "bob"}, "resume after reboot"); err != nil {
		t.Fatal(err)
	}
	checkNotWritten(t, s, 2)
}

func TestHeartbeatKeepsLeaseLive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		beatAt    time.Duration // 0: no heartbeat
		wantStale bool
	}{
		{"no heartbeat", 0, true},
		{"heartbeat", 25 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "audit.db")
			a := console(t, path, leaseT0)
			id := createRun(t, a, "erp")
			l, err := a.AcquireLease(ctx, id, alice)
			if err != nil {
				t.Fatal(err)
			}
			if tt.beatAt > 0 {
				a.now = func() time.Time { return leaseT0.Add(tt.beatAt) }
				if err := l.Heartbeat(ctx); err != nil {
					t.Fatal(err)
				}
			}
			b := console(t, path, leaseT0.Add(50*time.Second))
			_, err = b.AcquireLease(ctx, id, Holder{Operator: "bob"})
			var held *LeaseHeldError
			if !errors.As(err, &held) || held.Stale != tt.wantStale {
				t.Fatalf("AcquireLease = %v; want held, stale %v", err, tt.wantStale)
			}
			if !held.Since.Equal(leaseT0) {
				t.Errorf("a heartbeat moved the lease's start to %v", held.Since)
			}
		})
	}
}

func TestAcquireLeaseRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTemp(t)
	ended := createRun(t, s, "erp")
	appendAll(t, s, ended, 0, failoverEvents(engine.OutcomeFailed))
	tests := []struct {
		name  string
		run   int64
		is    error
		words string
	}{
		{"unknown run", 42, ErrNoRun, "lease run 42: no such run"},
		{"ended run", ended, ErrRunEnded, "the run has ended (failed at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.AcquireLease(ctx, tt.run, Holder{Operator: "bob"})
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.words) {
				t.Errorf("AcquireLease = %v, want %v saying %q", err, tt.is, tt.words)
			}
			_, err = s.TakeOverLease(ctx, tt.run, Holder{Operator: "bob"}, "why not")
			if !errors.Is(err, tt.is) {
				t.Errorf("TakeOverLease = %v, want %v", err, tt.is)
			}
		})
	}
}

// TestAppendNeedsTheLease: with a lease on the run, only its holder writes.
func TestAppendNeedsTheLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	a := console(t, path, leaseT0)
	id := createRun(t, a, "erp")
	appendAll(t, a, id, 0, failoverEvents("")[:2])
	if _, err := a.AcquireLease(ctx, id, alice); err != nil {
		t.Fatal(err)
	}
	b := console(t, path, leaseT0)
	err := b.Append(ctx, nextEvent(id, 3))
	if !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "run 1 is driven by alice") {
		t.Fatalf("Append without the lease = %v", err)
	}
	if err := a.Append(ctx, nextEvent(id, 3)); err != nil {
		t.Fatalf("Append by the holder: %v", err)
	}
}

func TestLeaseRaceGoroutines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	const n = 8
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = console(t, path, leaseT0)
	}
	id := createRun(t, stores[0], "erp")

	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			<-start
			_, errs[i] = s.AcquireLease(ctx, id, Holder{Operator: "op" + strconv.Itoa(i)})
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("op%d and op%d both acquired run %d", winner, i, id)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("nobody acquired the lease: %v", errs)
	}
	for i, err := range errs {
		if i == winner {
			continue
		}
		var held *LeaseHeldError
		if !errors.As(err, &held) || held.Stale || held.Holder.Operator != "op"+strconv.Itoa(winner) {
			t.Errorf("op%d: %v; want held by op%d, live", i, err, winner)
		}
	}
}

func TestLeaseRaceProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTemp(t)
	id := createRun(t, s, "erp")
	const n = 4
	procs := make([]*helperProc, n)
	for i := range procs {
		procs[i] = startHelper(t, "lease", path, strconv.FormatInt(id, 10), "op"+strconv.Itoa(i))
	}
	for _, p := range procs {
		p.expect("READY")
	}
	for _, p := range procs {
		p.send("go")
	}
	results := make([]helperResult, n)
	for i, p := range procs {
		if err := json.Unmarshal([]byte(p.expect("RESULT")), &results[i]); err != nil {
			t.Fatal(err)
		}
	}
	// Every helper is still alive here: the winner's lease is live.
	winner := -1
	for i, r := range results {
		if r.Won {
			if winner >= 0 {
				t.Fatalf("processes %d and %d both acquired run %d", results[winner].PID, r.PID, id)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("no process acquired the lease: %+v", results)
	}
	for i, r := range results {
		if i == winner {
			continue
		}
		if !r.Held || r.Stale || !strings.Contains(r.Err, fmt.Sprintf("is driven by op%d on ", winner)) ||
			!strings.Contains(r.Err, fmt.Sprintf("(pid %d, console helper)", results[winner].PID)) {
			t.Errorf("process %d: %+v; want held by op%d (pid %d), live", r.PID, r, winner, results[winner].PID)
		}
	}
	// Once the winner has exited, its lease is stale from here, since the
	// pid is checked on this host.
	procs[winner].stop()
	_, err := s.AcquireLease(ctx, id, Holder{Operator: "carol"})
	var held *LeaseHeldError
	if !errors.As(err, &held) || !held.Stale || !strings.Contains(held.Why, "no longer exists") {
		t.Errorf("after the winner exited: %v; want stale, process gone", err)
	}
}

func TestLocalHolder(t *testing.T) {
	t.Setenv("SSH_CONNECTION", "10.0.0.5 52144 10.0.0.1 22")
	host, _ := os.Hostname()
	h := LocalHolder("alice", "tui")
	want := Holder{Operator: "alice", Host: host, PID: os.Getpid(), SSHClient: "10.0.0.5", Console: "tui"}
	if h != want {
		t.Errorf("LocalHolder = %+v, want %+v", h, want)
	}
	if got := h.String(); got != fmt.Sprintf("alice on %s (pid %d, from 10.0.0.5, console tui)", host, os.Getpid()) {
		t.Errorf("String() = %q", got)
	}
}
