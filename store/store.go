// Package store is repli's audit trail: one SQLite file holding every run and
// every event, append-only and hash-chained. It implements engine.Journal.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// applicationID marks a SQLite file as a repli audit trail ("RPLI").
const applicationID = 0x52504c49

// ErrNewerSchema is returned for a database written by a newer repli.
var ErrNewerSchema = errors.New("database was written by a newer repli")

// Store is an open audit trail.
type Store struct {
	db       *sql.DB
	path     string
	readOnly bool
}

// DefaultPath is $REPLI_DB, else $XDG_STATE_HOME/repli/audit.db, else
// ~/.local/state/repli/audit.db.
func DefaultPath() string {
	if p := os.Getenv("REPLI_DB"); p != "" {
		return p
	}
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "repli", "audit.db")
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", "5000")
	q.Set("_foreign_keys", "on")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "FULL")
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens the audit trail at path for writing, creating it (and its
// directory) private to the user, and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create audit directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit database %s: %w", path, err)
	}
	f.Close()
	db, err := sql.Open("sqlite3", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open audit database %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit database %s: %w", path, err)
	}
	return s, nil
}

// OpenReadOnly opens an existing audit trail for reading only, so that a
// copy on a laptop or a read-only medium can be reviewed.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("audit database %s: %w", path, err)
	}
	db, err := sql.Open("sqlite3", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("open audit database %s: %w", path, err)
	}
	s := &Store{db: db, path: path, readOnly: true}
	if err := s.checkSchema(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit database %s: %w", path, err)
	}
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func migrations() ([]string, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out[i] = string(b)
	}
	return out, nil
}

func (s *Store) checkSchema(ctx context.Context) error {
	var version, app int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return fmt.Errorf("read application id: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	switch {
	case version == 0 && app == 0:
		return fmt.Errorf("not a repli audit database (empty)")
	case app != applicationID:
		return fmt.Errorf("not a repli audit database (application id %#x)", app)
	case version > len(ms):
		return fmt.Errorf("%w (schema %d; this repli knows up to %d): upgrade repli to read it", ErrNewerSchema, version, len(ms))
	}
	return nil
}

// migrate applies the embedded migrations under the write lock, re-reading
// the version inside the transaction so two consoles cannot both apply one.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("lock for migration: %w", err)
	}
	defer tx.Rollback()
	var version, app int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return fmt.Errorf("read application id: %w", err)
	}
	if app != 0 && app != applicationID {
		return fmt.Errorf("not a repli audit database (application id %#x); refusing to touch it", app)
	}
	if app == 0 && version != 0 {
		return fmt.Errorf("not a repli audit database (schema %d without repli's id); refusing to touch it", version)
	}
	if version > len(ms) {
		return fmt.Errorf("%w (schema %d; this repli knows up to %d): upgrade repli to use it", ErrNewerSchema, version, len(ms))
	}
	if version == len(ms) {
		return nil
	}
	if app == 0 {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("not a repli audit database (it has tables of its own); refusing to touch it")
		}
	}
	for i := version; i < len(ms); i++ {
		if _, err := tx.ExecContext(ctx, ms[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", len(ms), applicationID)); err != nil {
		return fmt.Errorf("record schema version: %w", err)
	}
	return tx.Commit()
}

// explain turns SQLite's terse failures into what an operator can act on.
func explain(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "readonly") || strings.Contains(msg, "read-only"):
		return fmt.Errorf("the audit database is read-only: %w", err)
	case strings.Contains(msg, "disk is full") || strings.Contains(msg, "database or disk is full"):
		return fmt.Errorf("the disk holding the audit database is full: %w", err)
	case strings.Contains(msg, "locked") || strings.Contains(msg, "busy"):
		return fmt.Errorf("the audit database is locked by another process: %w", err)
	}
	return err
}
