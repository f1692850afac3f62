// Package replica keeps repli's audit trail at the other site. It runs
// Litestream (github.com/benbjohnson/litestream, v0.5) as a sidecar process
// that ships every committed transaction of the trail's SQLite file to a
// replica URL, tells how far behind the replica is, and restores a trail
// from it. Replication itself is Litestream's: nothing here reads or writes
// the replica's files.
//
// Why a sidecar and not Litestream's library: the library opens the
// database with its own SQLite, modernc.org/sqlite, imported by the core
// package (db.go), while repli writes the trail through mattn/go-sqlite3.
// Two SQLite libraries in one process on one file break SQLite's locking:
// POSIX advisory locks belong to the process, so when one library closes a
// descriptor of the file the other's locks go too (sqlite.org/howtocorrupt,
// "multiple copies of SQLite linked into the same application"). Linking
// the library would also add the SDKs of every store Litestream supports to
// repli. A separate process has its own locks, crashes on its own, and is
// the way Litestream is meant to be run.
package replica

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// Version is the Litestream release repli is built and tested against; the
// Makefile (mk/replica.mk) installs it.
const Version = "v0.5.18"

// ErrBehind is returned when the replica does not hold every transaction
// committed so far within the time allowed.
var ErrBehind = errors.New("the replica at the other site is behind")

// ErrNoBinary is returned when the litestream executable cannot be found.
var ErrNoBinary = errors.New("litestream not found")

// Options tune the sidecar. The zero value is usable.
type Options struct {
	// Binary is the litestream executable. Default: FindBinary.
	Binary string
	// KeyPath is the private key an sftp replica logs in with. Litestream
	// reads it itself (no ssh-agent), so it must have no passphrase.
	// Default: the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
	KeyPath string
	// HostKey pins the sftp server's key ("ssh-ed25519 AAAA…"). Default:
	// looked up in KnownHosts. An sftp replica without a known host key is
	// refused: Litestream would otherwise accept any key.
	HostKey string
	// KnownHosts is where HostKey is looked up. Default ~/.ssh/known_hosts.
	KnownHosts string
	// LogPath is Litestream's log. Default: beside the trail,
	// <trail>.litestream.log.
	LogPath string
	// SyncInterval is how often Litestream ships new transactions when
	// nobody asks. Default 1s.
	SyncInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait before a dead sidecar is
	// started again; it doubles at each death. Defaults 1s and 30s.
	MinBackoff, MaxBackoff time.Duration
	// PollInterval is how often the sidecar measures its own lag, for
	// Status. Default 2s.
	PollInterval time.Duration
	// StopGrace is how long Close lets Litestream ship what it has before
	// it is killed. Default 15s.
	StopGrace time.Duration
}

// EnvOptions are the options the environment gives: REPLI_REPLICA_IDENTITY
// (KeyPath), REPLI_REPLICA_HOST_KEY (HostKey), REPLI_LITESTREAM (Binary).
func EnvOptions() Options {
	return Options{
		Binary:  os.Getenv("REPLI_LITESTREAM"),
		KeyPath: os.Getenv("REPLI_REPLICA_IDENTITY"),
		HostKey: os.Getenv("REPLI_REPLICA_HOST_KEY"),
	}
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.SyncInterval, time.Second)
	def(&o.MinBackoff, time.Second)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.PollInterval, 2*time.Second)
	def(&o.StopGrace, 15*time.Second)
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	return o
}

// FindBinary finds litestream: $REPLI_LITESTREAM, else tools/litestream
// beside the repli executable (bin/tools/litestream, where make puts it),
// else litestream on the PATH.
func FindBinary() (string, error) {
	if p := os.Getenv("REPLI_LITESTREAM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%w at REPLI_LITESTREAM=%s: %v", ErrNoBinary, p, err)
		}
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "tools", "litestream")
		if _, err := exec.LookPath(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("litestream"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: run make deps-replica (it installs %s into bin/tools), or set REPLI_LITESTREAM to its path", ErrNoBinary, Version)
}

// Redact is a replica URL fit to show and record: no password, no query
// (an S3 URL may carry credentials there), no control characters.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Clean(raw)
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	u.RawQuery, u.Fragment = "", ""
	return Clean(u.String())
}

// Clean drops control characters: strings from outside are data.
func Clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// Schemes Litestream takes besides file and sftp; they are passed through.
var passThrough = map[string]bool{"s3": true, "gs": true, "abs": true, "webdav": true, "webdavs": true, "nats": true, "oss": true}

// target is a replica URL checked and completed for Litestream.
type target struct {
	url, keyPath, hostKey string
}

// resolve checks a replica URL and finds what Litestream needs besides it:
// for sftp, the key to log in with and the server's pinned host key.
func resolve(raw string, o Options) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("replica URL %q: %w", Clean(raw), err)
	}
	t := target{url: raw}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "file":
		if u.Host != "" && u.Host != "localhost" {
			return target{}, fmt.Errorf("replica URL %s: a file URL names a path on this machine, e.g. file:///mnt/site-b/repli (three slashes)", Redact(raw))
		}
		if !filepath.IsAbs(u.Path) {
			return target{}, fmt.Errorf("replica URL %s: the path must be absolute, e.g. file:///mnt/site-b/repli", Redact(raw))
		}
	case scheme == "sftp":
		if u.User == nil || u.User.Username() == "" || u.Hostname() == "" || u.Path == "" || u.Path == "/" {
			return target{}, fmt.Errorf("replica URL %s: write it as sftp://user@host/path (a directory of its own at the other site)", Redact(raw))
		}
		if _, ok := u.User.Password(); ok {
			return target{}, fmt.Errorf("replica URL %s: a password in the URL would sit in a config file; log in with a key (--identity) instead", Redact(raw))
		}
		if t.keyPath, err = sftpKey(o.KeyPath); err != nil {
			return target{}, err
		}
		if t.hostKey, err = sftpHostKey(u, o); err != nil {
			return target{}, err
		}
	case passThrough[scheme]:
	case scheme == "":
		return target{}, fmt.Errorf("replica URL %q has no scheme: use file:///path (a mount from the other site), sftp://user@host/path or s3://bucket/path", Clean(raw))
	default:
		return target{}, fmt.Errorf("replica URL %s: Litestream cannot write to %q; use file:///path, sftp://user@host/path or s3://bucket/path", Redact(raw), scheme)
	}
	return t, nil
}

// Litestream's configuration file, the parts repli writes.
type lsConfig struct {
	Socket  lsSocket  `yaml:"socket"`
	Logging lsLogging `yaml:"logging"`
	// ShutdownSyncTimeout bounds the last shipment on SIGTERM.
	ShutdownSyncTimeout string `yaml:"shutdown-sync-timeout,omitempty"`
	DBs                 []lsDB `yaml:"dbs"`
}

type lsSocket struct {
	Enabled     bool   `yaml:"enabled"`
	Path        string `yaml:"path"`
	Permissions uint32 `yaml:"permissions"`
}

type lsLogging struct {
	Level string `yaml:"level"`
}

type lsDB struct {
	Path    string    `yaml:"path"`
	Replica lsReplica `yaml:"replica"`
}

type lsReplica struct {
	URL          string `yaml:"url"`
	SyncInterval string `yaml:"sync-interval,omitempty"`
	KeyPath      string `yaml:"key-path,omitempty"`
	HostKey      string `yaml:"host-key,omitempty"`
}

// writeConfig writes Litestream's configuration for one database, private
// to the user (it may name a key and a bucket).
func writeConfig(path, dbPath string, t target, socket string, o Options) error {
	c := lsConfig{
		Logging:             lsLogging{Level: "info"},
		ShutdownSyncTimeout: (o.StopGrace * 2 / 3).String(),
		DBs: []lsDB{{Path: dbPath, Replica: lsReplica{
			URL: t.url, KeyPath: t.keyPath, HostKey: t.hostKey,
		}}},
	}
	if socket != "" {
		c.Socket = lsSocket{Enabled: true, Path: socket, Permissions: 0o600}
	}
	if o.SyncInterval > 0 {
		c.DBs[0].Replica.SyncInterval = o.SyncInterval.String()
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("write litestream config: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write litestream config: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write litestream config: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write litestream config: %w", err)
	}
	return nil
}

// privateDir is a directory of the user's own for Litestream's config and
// control socket. It is under the temporary directory, not beside the
// trail, because a Unix socket path is limited to 108 bytes.
func privateDir() (string, error) {
	d, err := os.MkdirTemp("", "repli-replica-")
	if err != nil {
		return "", fmt.Errorf("create a private directory for litestream: %w", err)
	}
	return d, nil
}

// OnTrailsFileSystem reports whether a file:// replica would sit on the
// trail's own file system: a replica the site's loss would take with it
// (a directory that is not the mount from the other site it should be).
// For other schemes, and when it cannot tell, it reports false.
func OnTrailsFileSystem(dbPath, replicaURL string) bool {
	u, err := url.Parse(replicaURL)
	if err != nil || !strings.EqualFold(u.Scheme, "file") {
		return false
	}
	dev := func(p string) (uint64, bool) {
		// The nearest existing directory: the replica's may not exist yet.
		for ; ; p = filepath.Dir(p) {
			var st syscall.Stat_t
			if syscall.Stat(p, &st) == nil {
				return uint64(st.Dev), true
			}
			if p == filepath.Dir(p) {
				return 0, false
			}
		}
	}
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		return false
	}
	a, ok1 := dev(filepath.Dir(abs))
	b, ok2 := dev(u.Path)
	return ok1 && ok2 && a == b
}
