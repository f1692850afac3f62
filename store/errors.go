package store

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Why a write failed, for errors.Is. Every failed write means the event
// is not in the trail (the transaction was rolled back).
//
// Two kinds, for a caller that must decide whether to retry:
//
//   - Busy, worth retrying after a wait: ErrLocked (another process held the
//     write lock for the whole busy timeout). The trail is sound; the same
//     write can succeed a moment later. A write given a context that has
//     ended fails with ctx.Err(), not ErrLocked: give an outcome write a
//     context of its own, not the action's, whose deadline may have passed.
//   - Broken, not cured by waiting, an operator must act: ErrDiskFull,
//     ErrReadOnly, ErrIO, ErrDamaged (and, at Open, ErrNotRepli,
//     ErrNewerSchema, ErrNotOwner). Stop the run resumable and say what the
//     error says to do.
//
// IsBusy tells the two apart.
var (
	// ErrLocked: another process held the write lock for the whole busy
	// timeout.
	ErrLocked = errors.New("the audit database is locked by another process")
	// ErrDiskFull: the file system holding the database has no space left.
	ErrDiskFull = errors.New("the disk holding the audit database is full")
	// ErrReadOnly: the database cannot be written (read-only mount, file
	// permissions, or a store opened for review).
	ErrReadOnly = errors.New("the audit database is read-only")
	// ErrIO: the operating system reported an I/O error.
	ErrIO = errors.New("the disk holding the audit database reported an I/O error")
	// ErrDamaged: SQLite found the file malformed.
	ErrDamaged = errors.New("the audit database file is damaged")
)

// IsBusy reports whether err is a write that failed only because another
// process held the lock (ErrLocked): retrying later can succeed. Every
// other failure of the store needs an operator.
func IsBusy(err error) bool {
	return errors.Is(err, ErrLocked) && !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrDiskFull) && !errors.Is(err, ErrIO)
}

func (s *Store) explain(err error) error { return explainFor(err, s.path, s.busy) }

// explainFor turns SQLite's and the system's terse failures into what an
// operator can act on: which file, what is wrong with it, what to do next.
// The original error stays in the chain (and at the end of the message).
func explainFor(err error, path string, busy time.Duration) error {
	if err == nil {
		return nil
	}
	for _, known := range []error{ErrLocked, ErrDiskFull, ErrReadOnly, ErrIO, ErrDamaged, ErrNotRepli, ErrNewerSchema, ErrNotOwner} {
		if errors.Is(err, known) {
			return err // explained already
		}
	}
	dir := filepath.Dir(path)
	locked := func() error {
		return fmt.Errorf("%w (gave up after %s): another repli, or a sqlite3 shell left in a transaction, is writing %s; find it with `fuser %s`, end it, then resume the run: %w",
			ErrLocked, busy, path, path, err)
	}
	full := func() error {
		return fmt.Errorf("%w (%s): free space there (df -h %s), then resume the run: %w", ErrDiskFull, dir, dir, err)
	}
	readOnly := func() error {
		return fmt.Errorf("%w: %s cannot be written (read-only mount, file permissions, or an immutable attribute); make it writable for this user, then resume the run: %w", ErrReadOnly, path, err)
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return locked()
		case sqlite3.ErrFull:
			return full()
		case sqlite3.ErrReadonly, sqlite3.ErrPerm:
			return readOnly()
		case sqlite3.ErrNotADB:
			return fmt.Errorf("%w (%s is not a SQLite file); refusing to touch it: %w", ErrNotRepli, path, err)
		case sqlite3.ErrCorrupt:
			return fmt.Errorf("%w (%s): keep a copy for the auditors, run `repli verify`, and start new runs on a new database: %w", ErrDamaged, path, err)
		case sqlite3.ErrIoErr, sqlite3.ErrCantOpen:
			switch se.SystemErrno {
			case syscall.ENOSPC, syscall.EDQUOT:
				return full()
			case syscall.EROFS, syscall.EACCES, syscall.EPERM:
				return readOnly()
			}
			if se.Code == sqlite3.ErrIoErr {
				return fmt.Errorf("%w (%s): check the disk and the kernel log (dmesg), then resume the run: %w", ErrIO, path, err)
			}
		}
		return err
	}
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return full()
	case errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		return readOnly()
	case errors.Is(err, syscall.EIO):
		return fmt.Errorf("%w (%s): check the disk and the kernel log (dmesg): %w", ErrIO, path, err)
	}
	return err
}
