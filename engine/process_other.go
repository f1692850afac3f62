//go:build !linux

package engine

import "syscall"

// guarded: without a parent-death signal there is no guard to run.
const guarded = false

func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func processStart(int) (uint64, error) { return 0, nil }

// ProcessAlive reports whether a process with this pid exists (the start
// time cannot be read here).
func ProcessAlive(pid int, _ uint64) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}
