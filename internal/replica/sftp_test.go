package replica

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/repli-dr/repli/engine/libvirt/libvirtlab"
)

// The trail replicated over sftp to a real sshd at "the other site", with
// the host key pinned from known_hosts, then restored from there.
func TestReplicateOverSFTPAndRestore(t *testing.T) {
	ctx := context.Background()
	litestreamBin(t)
	d := libvirtlab.StartSSHD(t, reachableDir(t), libvirtlab.SSHHost{Alias: "site-b"})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd log:\n%s", d.Log())
		}
	})
	// The replica directory belongs to the account Litestream logs in as.
	remote := filepath.Join(d.Dir, "site-b", "repli")
	if err := os.MkdirAll(remote, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Dir(remote), d.UID, d.GID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(remote, d.UID, d.GID); err != nil {
		t.Fatal(err)
	}
	u := fmt.Sprintf("sftp://%s@127.0.0.1:%d%s", d.User, d.Port, remote)
	o := Options{
		KeyPath:    filepath.Join(d.Home, ".ssh", "id_site-b"),
		KnownHosts: filepath.Join(d.Home, ".ssh", "known_hosts"),
		MinBackoff: time.Hour, MaxBackoff: time.Hour,
	}

	tr := newTrail(t)
	sc := startSidecar(t, tr, u, o)
	cfg, err := os.ReadFile(sc.config)
	if err != nil {
		t.Fatal(err)
	}
	known, _ := os.ReadFile(o.KnownHosts)
	pinned := strings.Join(strings.Fields(string(known))[1:3], " ")
	if !strings.Contains(string(cfg), "host-key: "+pinned) {
		t.Fatalf("the config does not pin the host key %q:\n%s", pinned, cfg)
	}

	tr.steps(20)
	start := time.Now()
	lag, err := sc.WaitCaughtUp(ctx, gateBound)
	if err != nil {
		t.Fatalf("WaitCaughtUp over sftp: %v\nsshd: %s", err, d.Log())
	}
	t.Logf("replica over sftp caught up at the gate (21 events) in %s: %s", time.Since(start).Round(time.Millisecond), lag)
	tr.steps(10)
	tr.end()
	start = time.Now()
	if _, err := sc.WaitCaughtUp(ctx, gateBound); err != nil {
		t.Fatalf("WaitCaughtUp over sftp at the end: %v", err)
	}
	t.Logf("replica over sftp caught up at the run's end in %s", time.Since(start).Round(time.Millisecond))
	if entries, _ := os.ReadDir(remote); len(entries) == 0 {
		t.Fatalf("nothing written to %s at the other site", remote)
	}

	burn(t, sc)
	lost := time.Now()
	tr.lose()
	restored := filepath.Join(t.TempDir(), "site-b-console", "audit.db")
	o.Binary = litestreamBin(t)
	if err := Restore(ctx, u, restored, o); err != nil {
		t.Fatalf("Restore over sftp: %v", err)
	}
	t.Logf("trail lost → restored over sftp in %s", time.Since(lost).Round(time.Millisecond))
	checkRestored(t, restored, tr.run, tr.seq)
}

// reachableDir is a temporary directory the sshd's account can reach:
// sshd reads authorized_keys as the account logging in, and t.TempDir()
// and its parent are private (0700).
func reachableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A server whose key is not the pinned one gets nothing: Litestream
// (v0.5.18 connects at start) refuses it, and Start says so.
func TestSFTPWrongHostKeyRefused(t *testing.T) {
	ctx := context.Background()
	litestreamBin(t)
	d := libvirtlab.StartSSHD(t, reachableDir(t), libvirtlab.SSHHost{Alias: "site-b"})
	remote := filepath.Join(d.Dir, "repli")
	if err := os.MkdirAll(remote, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(remote, d.UID, d.GID); err != nil {
		t.Fatal(err)
	}
	// Another key than sshd's: the client's own public key.
	pub, err := os.ReadFile(filepath.Join(d.Home, ".ssh", "id_site-b.pub"))
	if err != nil {
		t.Fatal(err)
	}
	u := fmt.Sprintf("sftp://%s@127.0.0.1:%d%s", d.User, d.Port, remote)
	tr := newTrail(t)
	_, err = Start(ctx, tr.path, u, Options{Binary: litestreamBin(t), KeyPath: filepath.Join(d.Home, ".ssh", "id_site-b"), HostKey: string(pub)})
	if err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("Start with a server showing another host key: %v; want a host key mismatch", err)
	}
	if entries, _ := os.ReadDir(remote); len(entries) != 0 {
		t.Errorf("%d files written to a server with the wrong host key", len(entries))
	}
}

// An sftp replica with no known host key is refused before anything runs:
// Litestream would accept any key.
func TestSFTPUnknownHostRefused(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	mustKeygen(t, key)
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, []byte("[other.example]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKc2d8eLsQh1wGIv7c5bCqg5Z5U5l3qU1xQ8dQz3O5Dm\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := resolve("sftp://backup@site-b.example/srv/repli", Options{KeyPath: key, KnownHosts: known})
	if err == nil || !strings.Contains(err.Error(), "no host key for site-b.example") {
		t.Fatalf("resolve with an unknown host: %v", err)
	}
	u, _ := url.Parse("sftp://backup@other.example:2222/srv/repli")
	k, err := sftpHostKey(u, Options{KnownHosts: known})
	if err != nil || !strings.HasPrefix(k, "ssh-ed25519 AAAAC3") {
		t.Fatalf("sftpHostKey for a known [host]:port = %q, %v", k, err)
	}
}
