//go:build linux

package engine

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// guarded: commands run under the guard script (see run), which the
// parent-death signal reaches.
const guarded = true

func procAttr() *syscall.SysProcAttr {
	// Setpgid: the command leads its own group, so a timeout kills all of
	// it. Pdeathsig: the kernel signals the guard when the console dies.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// processStart reads a process's start time, in clock ticks after boot
// (field 22 of /proc/PID/stat): with the pid, it names one process even
// after the pid is reused.
func processStart(pid int) (uint64, error) {
	_, start, err := procStat(pid)
	return start, err
}

func procStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces and
	// parentheses itself: the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, os.ErrInvalid
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return 0, 0, os.ErrInvalid
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	return f[0][0], start, err
}

// ProcessAlive reports whether the process pid, started at startTicks (as
// ExecStarted records them), is still running: a resume uses it to say
// "the first copy may still be running" instead of offering a re-run. A
// zombie, a vanished pid, or a pid now used by another process (another
// start time) is not alive. With startTicks 0 (not recorded), any live
// process with that pid counts, to err on the side of not running twice.
func ProcessAlive(pid int, startTicks uint64) bool {
	if pid <= 0 {
		return false
	}
	state, start, err := procStat(pid)
	if err != nil {
		return false
	}
	if state == 'Z' || state == 'X' {
		return false
	}
	return startTicks == 0 || start == startTicks
}
