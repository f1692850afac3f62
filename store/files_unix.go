//go:build unix

package store

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// secureFile refuses a trail this user does not own, and takes group and
// other permissions off the trail and its -wal and -shm files. It is given
// the opened file, so that what is checked is what was opened (a symlink
// planted in a shared directory leads to a file of its planter's, and is
// refused). SQLite creates -wal and -shm with the database file's mode, so
// they stay private from here on.
func secureFile(f *os.File, path string) error {
	if err := secureOne(f, path); err != nil {
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
		err = secureOne(g, side)
		g.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func secureOne(f *os.File, path string) error {
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if me := os.Geteuid(); int(st.Uid) != me {
		return fmt.Errorf("%w: %s belongs to %s, not to %s who runs repli; another user could have written it. "+
			"Use a trail of your own (--db, or $REPLI_DB), or run repli as its owner", ErrNotOwner, path, userName(st.Uid), userName(uint32(me)))
	}
	if info.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(info.Mode().Perm() & 0o700); err != nil {
			return fmt.Errorf("make %s private (chmod go-rwx): %w", path, err)
		}
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
