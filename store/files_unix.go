//go:build unix

package store

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// checkOwner refuses a trail this user does not own, or whose -wal or -shm
// file another user owns (SQLite would read a planted -wal into the trail).
// It is given the opened file, so that what is checked is what was opened:
// a symlink planted in a shared directory leads to a file of its planter's,
// and is refused.
func checkOwner(f *os.File, path string) error {
	return sides(f, path, ownedByMe)
}

// makePrivate takes group and other permissions off the trail and its -wal
// and -shm files. SQLite creates -wal and -shm with the database file's
// mode, so they stay private from here on. It runs once the file is known
// to be a repli trail: a foreign file is left as it was.
func makePrivate(f *os.File, path string) error {
	return sides(f, path, private)
}

func sides(f *os.File, path string, check func(*os.File, os.FileInfo, string) error) error {
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if err := check(f, info, path); err != nil {
		return err
	}
	for _, side := range []string{path + "-wal", path + "-shm"} {
		g, err := os.OpenFile(side, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check %s: %w", side, err)
		}
		info, err := g.Stat()
		if err == nil {
			err = check(g, info, side)
		}
		g.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func ownedByMe(_ *os.File, info os.FileInfo, path string) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if me := os.Geteuid(); int(st.Uid) != me {
		return fmt.Errorf("%w: %s belongs to %s, not to %s who runs repli; another user could have written it. "+
			"Use a trail of your own (--db, or $REPLI_DB), or run repli as its owner", ErrNotOwner, path, userName(st.Uid), userName(uint32(me)))
	}
	return nil
}

func private(f *os.File, info os.FileInfo, path string) error {
	if info.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := f.Chmod(info.Mode().Perm() & 0o700); err != nil {
		return fmt.Errorf("make %s private (chmod go-rwx): %w", path, err)
	}
	return nil
}

func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}
