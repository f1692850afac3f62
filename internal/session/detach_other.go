//go:build !unix

package session

import "syscall"

func detachedAttr() *syscall.SysProcAttr { return nil }

func closeOnExec(int) {}
