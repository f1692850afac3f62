package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadReport(t *testing.T) {
	if id, err := readReport(strings.NewReader("ok 12\n")); err != nil || id != 12 {
		t.Errorf("ok 12: %d %v", id, err)
	}
	_, err := readReport(strings.NewReader("error: the sites are not ready\n  blocker one\n"))
	if err == nil || !strings.Contains(err.Error(), "the sites are not ready\n  blocker one") {
		t.Errorf("an error over two lines: %v", err)
	}
	if _, err := readReport(strings.NewReader("")); err == nil || !strings.Contains(err.Error(), "ended before") {
		t.Errorf("nothing said: %v", err)
	}
	if _, err := readReport(strings.NewReader("error: \x1b[2Jboom\n")); err == nil || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("control characters reach the terminal: %q", err)
	}
}

func TestSocketPath(t *testing.T) {
	short := filepath.Join(t.TempDir(), "audit.db")
	if p := SocketPath(short, 3); p != short+".run-3.sock" {
		t.Errorf("beside the trail: %s", p)
	}
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 120), "audit.db")
	p := SocketPath(long, 3)
	if len(p) >= 100 || filepath.Dir(p) != os.TempDir() {
		t.Errorf("a trail too deep for a socket beside it: %s", p)
	}
	if SocketPath(long, 3) != p || SocketPath(long, 4) == p {
		t.Errorf("the socket path is not one per run")
	}
}

func TestReplicaCheck(t *testing.T) {
	cases := []struct {
		name      string
		req       Request
		mode      string
		simulated bool
		refused   bool
		line      string
	}{
		{"real disaster without a replica", Request{}, "disaster", false, true, ""},
		{"real disaster, reason given", Request{NoReplica: "the other site is the one that burned"}, "disaster", false, false, "no replica of the audit trail at the other site, by alice: the other site is the one that burned"},
		{"real disaster with a replica", Request{Replica: "sftp://u:secret@b.example/srv"}, "disaster", false, false, "audit trail replicated to sftp://u@b.example/srv"},
		{"real drill without a replica", Request{}, "test", false, false, "preflight warning: no replica"},
		{"simulated failover", Request{}, "planned", true, false, ""},
	}
	for _, c := range cases {
		lines, err := replicaCheck(c.req, c.mode, c.simulated, "alice")
		if (err != nil) != c.refused {
			t.Errorf("%s: refused %v (%v)", c.name, err != nil, err)
			continue
		}
		got := strings.Join(lines, "\n")
		if c.line == "" && got != "" || !strings.Contains(got, c.line) || strings.Contains(got, "secret") {
			t.Errorf("%s: recorded %q, want %q", c.name, got, c.line)
		}
	}
}
