package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoReplica is returned by Restore when the URL holds no replica.
var ErrNoReplica = errors.New("no replica there")

// Restore writes the trail held by the replica at replicaURL to dbPath, as
// it stood at its last shipped transaction: `litestream restore`, with
// SQLite's quick integrity check. It never overwrites: a trail (or its WAL)
// already at dbPath is an error. The restored file is private (0600).
//
// opts gives what an sftp replica needs (key, pinned host key) and the
// binary; the rest is ignored.
func Restore(ctx context.Context, replicaURL, dbPath string, o Options) error {
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		return fmt.Errorf("restore the trail: %w", err)
	}
	for _, p := range []string{abs, abs + "-wal", abs + "-journal"} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("restore the trail: %s already exists; a restore never overwrites a trail: move it away, or restore to another --db", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore the trail: %w", err)
		}
	}
	t, err := resolve(replicaURL, o)
	if err != nil {
		return err
	}
	bin := o.Binary
	if bin == "" {
		if bin, err = FindBinary(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return fmt.Errorf("restore the trail: create its directory: %w", err)
	}
	dir, err := privateDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	config := filepath.Join(dir, "litestream.yml")
	if err := writeConfig(config, abs, t, "", o.withDefaults()); err != nil {
		return err
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "restore", "-config", config, "-no-expand-env", "-integrity-check", "quick", abs)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		said := tail(out.Bytes(), 3)
		if strings.Contains(said, "no matching backup files available") {
			return fmt.Errorf("restore the trail from %s: %w: check the URL (the directory the console replicated to)", Redact(replicaURL), ErrNoReplica)
		}
		// A failed restore leaves nothing half-written behind.
		for _, p := range []string{abs, abs + "-wal", abs + "-shm"} {
			os.Remove(p)
		}
		return fmt.Errorf("restore the trail from %s: litestream: %v: %s; check the URL and that the other site is reachable", Redact(replicaURL), err, said)
	}
	for _, p := range []string{abs, abs + "-wal", abs + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore the trail: make it private: %w", err)
		}
	}
	return nil
}
