package replica

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The helper process: starts a sidecar on $REPLI_TEST_TRAIL, prints
// litestream's pid, and waits to be killed.
func TestHelperConsole(t *testing.T) {
	path := os.Getenv("REPLI_TEST_TRAIL")
	if path == "" {
		t.Skip("helper process for TestLitestreamDiesWithItsConsole")
	}
	sc, err := Start(context.Background(), path, os.Getenv("REPLI_TEST_REPLICA"), Options{Binary: litestreamBin(t)})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("pid", sc.PID())
	select {}
}

// A console killed with -9 takes its litestream with it, and frees the
// trail for the next console's.
func TestLitestreamDiesWithItsConsole(t *testing.T) {
	tr := newTrail(t)
	url := "file://" + t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperConsole$")
	cmd.Env = append(os.Environ(), "REPLI_TEST_TRAIL="+tr.path, "REPLI_TEST_REPLICA="+url, "REPLI_LITESTREAM="+litestreamBin(t))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "pid" {
		t.Fatalf("helper console said %q", line)
	}
	pid, _ := strconv.Atoi(f[1])
	if !alive(pid) {
		t.Fatalf("litestream %d is not running", pid)
	}
	// A console killed with -9 leaves its private directory behind.
	var h holder
	b, _ := os.ReadFile(tr.path + ".litestream.lock")
	if err := json.Unmarshal(b, &h); err != nil || h.PID != cmd.Process.Pid {
		t.Fatalf("the lock file names %+v (%v), not the helper console %d", h, err, cmd.Process.Pid)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(h.Socket)) })

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	waitFor(t, "end of litestream with its console", func() bool { return !alive(pid) })
	// Its files are closed a moment after its main thread is a zombie.
	waitFor(t, "release of the trail's replication lock", func() bool { return lockFree(t, tr.path+".litestream.lock") })

	sc := startSidecar(t, tr, url, Options{})
	if sc.PID() == 0 || sc.attached != nil {
		t.Fatal("the next console does not run its own litestream")
	}
	tr.steps(3)
	if _, err := sc.WaitCaughtUp(context.Background(), gateBound); err != nil {
		t.Fatal(err)
	}
}

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// lockFree: nobody holds the flock on path.
func lockFree(t *testing.T, path string) bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}
