//go:build unix

package session

import "syscall"

// detachedAttr puts the engine process in a session of its own: no
// controlling terminal, so the console's hang-up never reaches it.
func detachedAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

func closeOnExec(fd int) { syscall.CloseOnExec(fd) }
