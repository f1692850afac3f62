package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/repli-dr/repli/engine"
)

// skipOrFail skips a test whose set-up this machine cannot provide, loudly,
// and fails it instead under CI, where the set-up is expected to work.
func skipOrFail(t *testing.T, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, so this cannot be skipped: %s", msg)
	}
	fmt.Fprintf(os.Stderr, "\n*** %s SKIPPED: %s ***\n\n", t.Name(), msg)
	t.Skip(msg)
}

// nextEvent is the event a run's next Append would journal.
func nextEvent(runID, seq int64) engine.Event {
	ev := &engine.Logged{Step: "stop-primary", Level: "info", Message: "checked replica lag"}
	ev.RunID, ev.Seq, ev.At = runID, seq, base.Add(time.Hour)
	return ev
}

// checkNotWritten checks that a failed Append left the trail as it was:
// n events, chain intact.
func checkNotWritten(t *testing.T, s *Store, n int64) {
	t.Helper()
	v, err := s.Verify(context.Background(), 0)
	if err != nil || !v.OK || v.Events != n {
		t.Fatalf("after the failed write: %+v, %v; want %d events, intact", v, err, n)
	}
}

func TestAppendFailsWhileLocked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hold func(t *testing.T, path string) (release func())
	}{
		{"by another connection", func(t *testing.T, path string) func() {
			db := plainDB(t, path)
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
				t.Fatal(err)
			}
			return func() { c.ExecContext(context.Background(), "ROLLBACK"); c.Close() }
		}},
		{"by another process", func(t *testing.T, path string) func() {
			h := startHelper(t, "lock", path)
			h.expect("LOCKED")
			return h.stop
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "audit.db")
			// A short busy timeout keeps the test quick; the mechanism is the
			// one Open uses with its five seconds.
			s, err := open(ctx, path, 100*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			id := createRun(t, s, "erp")
			appendAll(t, s, id, 0, failoverEvents("")[:3])

			release := tt.hold(t, path)
			err = s.Append(ctx, nextEvent(id, 4))
			if !errors.Is(err, ErrLocked) {
				release()
				t.Fatalf("Append while locked = %v, want ErrLocked", err)
			}
			for _, want := range []string{"write log event (run 1, #4)", "the audit database is locked by another process", "gave up after 100ms", path, "fuser"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
			var se sqlite3.Error
			if !errors.As(err, &se) || se.Code != sqlite3.ErrBusy {
				t.Errorf("the SQLite error is not kept in the chain: %#v", err)
			}
			release()
			checkNotWritten(t, s, 3)
			if err := s.Append(ctx, nextEvent(id, 4)); err != nil {
				t.Fatalf("Append after the lock was released: %v", err)
			}
			checkNotWritten(t, s, 4)
		})
	}
}

// TestExplain checks the words for failures that are hard to cause on every
// machine (the real ones are caused in the tests that need root).
func TestExplain(t *testing.T) {
	t.Parallel()
	const path = "/var/lib/repli/audit.db"
	tests := []struct {
		name string
		err  error
		is   error
		says []string
	}{
		{"busy", sqlite3.Error{Code: sqlite3.ErrBusy}, ErrLocked, []string{"locked by another process", "gave up after 5s", "fuser " + path}},
		{"full", sqlite3.Error{Code: sqlite3.ErrFull}, ErrDiskFull, []string{"the disk holding the audit database is full (/var/lib/repli)", "df -h /var/lib/repli", "resume the run"}},
		{"ENOSPC under an I/O error", sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.ENOSPC}, ErrDiskFull, []string{"full"}},
		{"read-only database", sqlite3.Error{Code: sqlite3.ErrReadonly}, ErrReadOnly, []string{"read-only", path + " cannot be written"}},
		{"EROFS under an I/O error", sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.EROFS}, ErrReadOnly, []string{"read-only mount"}},
		{"EPERM under an I/O error", sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.EPERM}, ErrReadOnly, []string{"read-only"}},
		{"other I/O error", sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.EIO}, ErrIO, []string{"I/O error", "dmesg"}},
		{"corrupt", sqlite3.Error{Code: sqlite3.ErrCorrupt}, ErrDamaged, []string{"damaged", "repli verify"}},
		{"not a database", sqlite3.Error{Code: sqlite3.ErrNotADB}, ErrNotRepli, []string{"not a SQLite file"}},
		{"mkdir on a full disk", &fs.PathError{Op: "mkdir", Path: "/var/lib/repli", Err: syscall.ENOSPC}, ErrDiskFull, []string{"full"}},
		{"create on a read-only mount", &fs.PathError{Op: "open", Path: path, Err: syscall.EROFS}, ErrReadOnly, []string{"read-only"}},
		{"permission denied", &fs.PathError{Op: "open", Path: path, Err: syscall.EACCES}, ErrReadOnly, []string{"make it writable for this user"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := explainFor(fmt.Errorf("commit: %w", tt.err), path, defaultBusyTimeout)
			if !errors.Is(got, tt.is) {
				t.Errorf("explain(%v) = %v, want %v", tt.err, got, tt.is)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("explain(%v) lost the original error", tt.err)
			}
			for _, want := range tt.says {
				if !strings.Contains(got.Error(), want) {
					t.Errorf("%q does not say %q", got, want)
				}
			}
			if again := explainFor(got, path, defaultBusyTimeout); again.Error() != got.Error() {
				t.Errorf("explained twice: %q", again)
			}
		})
	}
	if err := explainFor(context.Canceled, path, defaultBusyTimeout); err != context.Canceled {
		t.Errorf("explain(context.Canceled) = %v", err)
	}
}
