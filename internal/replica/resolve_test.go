package replica

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mustKeygen(t *testing.T, path string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not found: install openssh-client")
	}
	if len(args) == 0 {
		args = []string{"-t", "ed25519", "-N", ""}
	}
	out, err := exec.Command("ssh-keygen", append(append([]string{"-q"}, args...), "-C", "repli-test", "-f", path)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(pub))
	return f[0] + " " + f[1]
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	hostKey := mustKeygen(t, filepath.Join(dir, "host"))
	mustKeygen(t, key)
	sftp := Options{KeyPath: key, HostKey: hostKey}
	tests := []struct {
		url  string
		o    Options
		want string // "" for accepted, else part of the error
	}{
		{"file:///mnt/site-b/repli", Options{}, ""},
		{"file://nas/repli", Options{}, "three slashes"},
		{"file:repli", Options{}, "must be absolute"},
		{"/mnt/site-b/repli", Options{}, "no scheme"},
		{"ftp://site-b/repli", Options{}, `cannot write to "ftp"`},
		{"s3://bucket/repli?endpoint=https://minio.site-b:9000", Options{}, ""},
		{"sftp://backup@site-b/srv/repli", sftp, ""},
		{"sftp://site-b/srv/repli", sftp, "sftp://user@host/path"},
		{"sftp://backup@site-b", sftp, "sftp://user@host/path"},
		{"sftp://backup:hunter2@site-b/srv/repli", sftp, "password in the URL"},
		{"sftp://backup@site-b/srv/repli", Options{KeyPath: filepath.Join(dir, "nope"), HostKey: hostKey}, "no such file"},
		{"sftp://backup@site-b/srv/repli", Options{KeyPath: key, HostKey: "nonsense"}, "write it as in known_hosts"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := resolve(tt.url, tt.o)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			case tt.want != "" && strings.Contains(err.Error(), "hunter2"):
				t.Fatalf("the error shows the password: %v", err)
			}
			if tt.want == "" && strings.HasPrefix(tt.url, "sftp:") && (got.hostKey != hostKey || got.keyPath != key) {
				t.Errorf("sftp target = %+v, want key %s and host key %s", got, key, hostKey)
			}
		})
	}
}

// Of the keys known_hosts has for a host, the pinned one is the one the
// server will show Litestream's client: ECDSA before Ed25519.
func TestHostKeyPinnedIsTheOneLitestreamIsShown(t *testing.T) {
	dir := t.TempDir()
	ed := mustKeygen(t, filepath.Join(dir, "ed"))
	ec := mustKeygen(t, filepath.Join(dir, "ec"), "-t", "ecdsa", "-N", "")
	known := filepath.Join(dir, "known_hosts")
	os.WriteFile(known, []byte(fmt.Sprintf("site-b %s\nsite-b %s\nsite-c %s\n", ed, ec, ed)), 0o600)
	for host, want := range map[string]string{"site-b": ec, "site-c": ed} {
		u, _ := url.Parse("sftp://backup@" + host + "/srv/repli")
		got, err := sftpHostKey(u, Options{KnownHosts: known})
		if err != nil || got != want {
			t.Errorf("%s: pinned %q, %v; want %q", host, got, err, want)
		}
	}
	// Hashed entries (HashKnownHosts yes) are found too.
	if out, err := exec.Command("ssh-keygen", "-H", "-f", known).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -H: %v: %s", err, out)
	}
	u, _ := url.Parse("sftp://backup@site-b/srv/repli")
	if got, err := sftpHostKey(u, Options{KnownHosts: known}); err != nil || got != ec {
		t.Errorf("hashed known_hosts: pinned %q, %v; want %q", got, err, ec)
	}
}

// Litestream cannot ask for a passphrase: such a key is refused up front.
func TestSFTPKeyWithPassphraseRefused(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id")
	mustKeygen(t, key, "-t", "ed25519", "-N", "correct horse")
	_, err := sftpKey(key)
	if err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("sftpKey with a passphrase-protected key: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"sftp://backup:hunter2@site-b/srv/repli":     "sftp://backup@site-b/srv/repli",
		"s3://bucket/repli?secret-access-key=xyz":    "s3://bucket/repli",
		"file:///mnt/site-b/re\x1b[31mpli":           "file:///mnt/site-b/re[31mpli",
		"file:///mnt/site-b/repli":                   "file:///mnt/site-b/repli",
		"not a url \x1b]0;title\x07 %zz":             "not a url ]0;title %zz",
		"sftp://backup@site-b:2222/srv/repli#frag\n": "sftp://backup@site-b:2222/srv/repli",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLagString(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		lag         Lag
		want, short string
	}{
		{Lag{}, "replica not measured yet", "replica … not measured"},
		{Lag{At: at, Running: true, LocalTXID: 7, ReplicaTXID: 7, CaughtUp: true, Confirmed: at}, "replica in step (txid 7)", "replica ✓ in step"},
		{Lag{At: at, Running: true, LocalTXID: 9, ReplicaTXID: 7, Confirmed: at.Add(-12 * time.Second), Problem: "dial tcp: connection refused"},
			"replica behind by 2 Litestream transaction(s) (dial tcp: connection refused); last in step 12s ago", "replica ⚠ behind 12s"},
		{Lag{At: at, LocalTXID: 9, ReplicaTXID: 9, Problem: "litestream exited: signal: killed"},
			"replica down (litestream exited: signal: killed); never in step", "replica ✗ down never in step"},
	}
	for _, tt := range tests {
		if got := tt.lag.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.lag, got, tt.want)
		}
		if got := tt.lag.Short(); got != tt.short {
			t.Errorf("%+v.Short() = %q, want %q", tt.lag, got, tt.short)
		}
	}
}

// The Makefile installs the Litestream this package is written against.
func TestMakefilePinsVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "mk", "replica.mk"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "LITESTREAM_VERSION := "+Version+"\n") {
		t.Errorf("mk/replica.mk does not pin litestream %s", Version)
	}
}

func TestOnTrailsFileSystem(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "site-a", "audit.db")
	if !OnTrailsFileSystem(db, "file://"+filepath.Join(dir, "replica", "not-yet")) {
		t.Error("a replica beside the trail is not reported")
	}
	if OnTrailsFileSystem(db, "sftp://repli@site-b/srv/repli") || OnTrailsFileSystem(db, "s3://bucket/repli") {
		t.Error("a remote replica is reported as on the trail's file system")
	}
	// Another file system: /proc is one wherever the test runs.
	var a, b syscall.Stat_t
	if syscall.Stat(dir, &a) == nil && syscall.Stat("/proc", &b) == nil && a.Dev != b.Dev {
		if OnTrailsFileSystem(db, "file:///proc/repli") {
			t.Error("a replica on another file system is reported as on the trail's")
		}
	}
}
