//go:build unix

package store

import "syscall"

// dirWritable reports whether this process may create files in dir. It asks
// the kernel (access(2)), which also answers no on a read-only mount, even
// for root.
func dirWritable(dir string) bool {
	const wOK = 0x2
	return syscall.Access(dir, wOK) == nil
}
