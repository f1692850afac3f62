package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// mountOrSkip mounts, or skips (fails under CI) where this process may not.
// The mount is detached when the test ends, before its directories go.
func mountOrSkip(t *testing.T, source, target, fstype string, flags uintptr, data string) {
	t.Helper()
	what := fstype
	if what == "" {
		what = "a bind of " + source
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to mount %s on %s", what, target)
	}
	if err := syscall.Mount(source, target, fstype, flags, data); err != nil {
		skipOrFail(t, "mount %s on %s: %v (no CAP_SYS_ADMIN in this container?)", what, target, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}

// readOnlyBind makes dir a read-only view of itself: even root gets EROFS.
func readOnlyBind(t *testing.T, dir string) {
	t.Helper()
	mountOrSkip(t, dir, dir, "", syscall.MS_BIND, "")
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		skipOrFail(t, "remount %s read-only: %v", dir, err)
	}
}

// fill writes into path until the file system has not one byte left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last error
	for _, size := range []int{1 << 16, 1 << 12, 1 << 9, 1} {
		chunk := make([]byte, size)
		for {
			if _, last = f.Write(chunk); last != nil {
				break
			}
		}
	}
	if !errors.Is(last, syscall.ENOSPC) {
		t.Fatalf("filling %s: %v, want ENOSPC", path, last)
	}
}

func TestAppendFailsWhenDiskFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	mountOrSkip(t, "tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700")
	path := filepath.Join(dir, "audit.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents("")[:3])

	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	err = s.Append(ctx, nextEvent(id, 4))
	if IsBusy(err) {
		t.Errorf("a full disk reads as busy (worth a retry): %v", err)
	}
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Append on a full disk = %v, want ErrDiskFull", err)
	}
	for _, want := range []string{"write log event (run 1, #4)", "the disk holding the audit database is full (" + dir + ")", "df -h " + dir, "resume the run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	t.Log(err)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	checkNotWritten(t, s, 3)
	if err := s.Append(ctx, nextEvent(id, 4)); err != nil {
		t.Fatalf("Append once space was freed: %v", err)
	}
	checkNotWritten(t, s, 4)
}

// setImmutable sets or clears the immutable attribute (chattr +i), which
// even root cannot write through, on files that are already open.
func setImmutable(path string, on bool) error {
	const (
		getFlags  = 0x80086601 // FS_IOC_GETFLAGS
		setFlags  = 0x40086602 // FS_IOC_SETFLAGS
		immutable = 0x10       // FS_IMMUTABLE_FL
	)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var flags int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), getFlags, uintptr(unsafe.Pointer(&flags))); e != 0 {
		return e
	}
	if on {
		flags |= immutable
	} else {
		flags &^= immutable
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), setFlags, uintptr(unsafe.Pointer(&flags))); e != 0 {
		return e
	}
	return nil
}

// TestAppendFailsWhenFileMadeReadOnly makes the open database and its WAL
// immutable under the store, the way an administrator freezing the file
// would. Permission bits would not stop root; the attribute does.
func TestAppendFailsWhenFileMadeReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openTemp(t)
	id := createRun(t, s, "erp")
	appendAll(t, s, id, 0, failoverEvents("")[:3])

	files := []string{path, path + "-wal"}
	for _, f := range files {
		if err := setImmutable(f, true); err != nil {
			skipOrFail(t, "chattr +i %s: %v (needs root and a file system with attributes)", f, err)
		}
		t.Cleanup(func() { setImmutable(f, false) })
	}
	err := s.Append(ctx, nextEvent(id, 4))
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Append to an immutable file = %v, want ErrReadOnly", err)
	}
	for _, want := range []string{"write log event (run 1, #4)", "the audit database is read-only", path + " cannot be written"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	t.Log(err)
	for _, f := range files {
		if err := setImmutable(f, false); err != nil {
			t.Fatal(err)
		}
	}
	checkNotWritten(t, s, 3)
	if err := s.Append(ctx, nextEvent(id, 4)); err != nil {
		t.Fatalf("Append once writable again: %v", err)
	}
}

func TestOpenOnReadOnlyMount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	readOnlyBind(t, dir)
	for _, name := range []string{"audit.db", "new.db"} {
		path := filepath.Join(dir, name)
		s, err := Open(ctx, path)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%s) on a read-only mount succeeded", name)
		}
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path+" cannot be written (read-only mount") {
			t.Errorf("Open(%s) = %v, want ErrReadOnly naming the file", name, err)
		}
	}
}

// TestOpenReadOnlyMount reviews a trail on a truly read-only medium: a
// writable-looking file (0644) in a read-only mount. SQLite could not create
// its -shm there; the store opens the file immutable.
func TestOpenReadOnlyMount(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path, runID, n := reviewCopy(t, dir, 0o644, 0o755)
	readOnlyBind(t, dir)
	if dirWritable(dir) {
		t.Fatal("a read-only mount looks writable")
	}
	checkReview(t, path, runID, n)
}
