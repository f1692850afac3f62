// Package store is repli's audit trail: one SQLite file holding every run and
// every event, append-only and hash-chained. It implements engine.Journal.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3" // the SQLite driver, and its error codes
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// schemaStartEvent is the first schema whose runs rows are made by their
// run.started event (start_event_id); in older files a row may exist without
// any event, and its started_at is the console's clock, a moment before.
const schemaStartEvent = 4

// applicationID marks a SQLite file as a repli audit trail ("RPLI").
const applicationID = 0x52504c49

// defaultBusyTimeout is how long a write waits for another writer before it
// fails. Writers hold the lock for milliseconds (one event, one heartbeat);
// five seconds of waiting means something else holds it and will not let go.
const defaultBusyTimeout = 5 * time.Second

// ErrNewerSchema is returned for a database written by a newer repli.
var ErrNewerSchema = errors.New("database was written by a newer repli")

// ErrNotOwner is returned for a trail file (or its -wal or -shm) that
// another user owns: they could have written into it, so it is not opened
// for writing. A copy handed over for review is opened with OpenReadOnly.
var ErrNotOwner = errors.New("the audit database belongs to another user")

// ErrNotRepli is returned for a SQLite file that is not a repli audit trail.
// Such a file is never modified.
var ErrNotRepli = errors.New("not a repli audit database")

// Store is an open audit trail.
type Store struct {
	db       *sql.DB
	path     string
	readOnly bool
	busy     time.Duration
	// version is the file's schema version: a copy reviewed read-only may be
	// older than this repli (it is never migrated), and is read as such.
	version int

	// hostname is this machine's name, against which a lease's host is
	// compared to decide whether its PID can be checked here.
	hostname string
	// now and staleAfter are fields so that tests can age a lease without
	// sleeping.
	now        func() time.Time
	staleAfter time.Duration

	// stmts are the statements of the append path, prepared once (see
	// cachedTx).
	stmts stmtCache
	// seqs is each run's last sequence number, as of a head of the chain.
	seqs seqCache

	mu     sync.Mutex
	leases map[int64]string // run id → token of the lease this Store holds
	sign   signing          // see SetSigner
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

// dsnMode selects the connection flavour.
type dsnMode int

const (
	dsnWrite     dsnMode = iota // the pool every write goes through: WAL, FULL
	dsnInspect                  // first look at a file: changes nothing persistent
	dsnRead                     // review: mode=ro
	dsnImmutable                // review of a copy on read-only media
)

func dsn(path string, mode dsnMode, busy time.Duration) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	q.Set("_foreign_keys", "on")
	switch mode {
	case dsnWrite:
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "FULL")
		q.Set("_txlock", "immediate")
	case dsnInspect:
		// No _journal_mode: go-sqlite3 would run PRAGMA journal_mode=WAL on
		// connect, which rewrites the header of whatever file it is given,
		// before we know it is ours.
		q.Set("_synchronous", "FULL")
		q.Set("_txlock", "immediate")
	case dsnRead:
		q.Set("mode", "ro")
	case dsnImmutable:
		q.Set("mode", "ro")
		q.Set("immutable", "1")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

func newStore(db *sql.DB, path string, readOnly bool, busy time.Duration, version int) *Store {
	host, _ := os.Hostname()
	return &Store{
		db: db, path: path, readOnly: readOnly, busy: busy, version: version,
		hostname: host, now: time.Now, staleAfter: LeaseStaleAfter,
		leases: map[int64]string{},
	}
}

// Open opens the audit trail at path for writing, creating it (and its
// directory) private to the user, and brings its schema up to date. A file
// that is not a repli audit trail, or was written by a newer repli, is
// refused and left as it was.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, defaultBusyTimeout)
}

func open(ctx context.Context, path string, busy time.Duration) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create audit directory: %w", explainFor(err, path, busy))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit database: %w", explainFor(err, path, busy))
	}
	defer f.Close()
	if err := checkOwner(f, path); err != nil {
		return nil, fmt.Errorf("open audit database: %w", err)
	}

	// Check and migrate on a connection that does not switch the journal
	// mode, so that a foreign file is refused before anything is written.
	pre, err := sql.Open("sqlite3", dsn(path, dsnInspect, busy))
	if err != nil {
		return nil, fmt.Errorf("open audit database %s: %w", path, err)
	}
	pre.SetMaxOpenConns(1)
	err = checkIntegrity(ctx, pre, path)
	if err == nil {
		err = migrate(ctx, pre)
	}
	if err == nil {
		err = makePrivate(f, path)
	}
	if err == nil {
		err = setWAL(ctx, pre, busy)
	}
	pre.Close()
	if err != nil {
		return nil, fmt.Errorf("audit database %s: %w", path, explainFor(err, path, busy))
	}

	db, err := sql.Open("sqlite3", dsn(path, dsnWrite, busy))
	if err != nil {
		return nil, fmt.Errorf("open audit database %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit database %s: %w", path, explainFor(err, path, busy))
	}
	ms, err := migrations()
	if err != nil {
		db.Close()
		return nil, err
	}
	return newStore(db, path, false, busy, len(ms)), nil
}

// checkIntegrity refuses a damaged file before anything is written to it:
// a run on it would reserve a row and fail at its first event. See
// integrityCheck for why Open runs quick_check.
func checkIntegrity(ctx context.Context, db *sql.DB, path string) error {
	problem, err := integrityCheck(ctx, db, "quick_check")
	if err != nil {
		return err
	}
	if problem != "" {
		return fmt.Errorf("%w: %s", ErrDamaged, damagedAdvice(path, problem))
	}
	return nil
}

// setWAL puts the database in WAL mode, once, before the pool opens: the
// switch needs the file to itself for a moment, and when another connection
// sits between reading and writing, SQLite answers BUSY at once instead of
// waiting (its deadlock avoidance), which concurrent first opens of a new
// file run into. So it is retried here, within the busy timeout. On a
// database already in WAL mode it is a no-op.
func setWAL(ctx context.Context, db *sql.DB, busy time.Duration) error {
	give := time.NewTimer(busy)
	defer give.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		var se sqlite3.Error
		switch {
		case err == nil && mode == "wal":
			return nil
		case err == nil:
			// go-sqlite3 would not notice: a file system that cannot do WAL
			// leaves the old mode.
			return fmt.Errorf("journal mode stays %q, not WAL: put the database on a local file system", mode)
		case !errors.As(err, &se) || se.Code != sqlite3.ErrBusy:
			return fmt.Errorf("switch to WAL: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-give.C:
			return fmt.Errorf("switch to WAL: %w", err)
		case <-tick.C:
		}
	}
}

// OpenReadOnly opens an existing audit trail for reading only, so that a
// copy on a laptop or a read-only medium can be reviewed. SQLite never
// writes through this handle (mode=ro). A copy handed over for review — no
// WAL file beside it, and either no write permission bits on the file or a
// directory this process cannot write (a read-only mount) — is opened as
// immutable: no locks and no -shm file, so the directory stays as it was,
// even for root, whom permission bits do not stop. A live trail (0600, or
// with a -wal file) is read with locks, since a console may be writing it.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit database %s: %w", path, err)
	}
	mode := dsnRead
	if _, err := os.Stat(path + "-wal"); errors.Is(err, fs.ErrNotExist) && (info.Mode().Perm()&0o222 == 0 || !dirWritable(filepath.Dir(path))) {
		mode = dsnImmutable
	}
	db, err := sql.Open("sqlite3", dsn(path, mode, defaultBusyTimeout))
	if err != nil {
		return nil, fmt.Errorf("open audit database %s: %w", path, err)
	}
	version, err := checkSchema(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("audit database %s: %w", path, explainFor(err, path, defaultBusyTimeout))
	}
	return newStore(db, path, true, defaultBusyTimeout, version), nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database. Leases are not released: a console that closes
// without releasing leaves a lease that goes stale.
func (s *Store) Close() error {
	s.mu.Lock()
	if c, ok := s.sign.signer.(io.Closer); ok {
		c.Close()
	}
	s.sign.signer = nil
	s.mu.Unlock()
	s.stmts.close()
	return s.db.Close()
}

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

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// identify reads what a file says about itself and refuses anything that is
// not a repli audit trail this repli can use. A brand-new file (no id, no
// version, no tables) is fresh=true.
func identify(ctx context.Context, q querier, known int) (version int, fresh bool, err error) {
	var app, tables int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, false, fmt.Errorf("read schema version: %w", err)
	}
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return 0, false, fmt.Errorf("read application id: %w", err)
	}
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil {
		return 0, false, fmt.Errorf("read schema: %w", err)
	}
	switch {
	case app != 0 && app != applicationID:
		return 0, false, fmt.Errorf("%w (application id %#x); refusing to touch it", ErrNotRepli, app)
	case app == 0 && version != 0:
		return 0, false, fmt.Errorf("%w (schema %d without repli's application id); refusing to touch it", ErrNotRepli, version)
	case app == 0 && tables > 0:
		return 0, false, fmt.Errorf("%w (it has tables of its own); refusing to touch it", ErrNotRepli)
	case version > known:
		return 0, false, fmt.Errorf("%w (schema %d; this repli knows up to %d): upgrade repli to use it", ErrNewerSchema, version, known)
	}
	return version, app == 0, nil
}

func checkSchema(ctx context.Context, db *sql.DB) (int, error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	version, fresh, err := identify(ctx, db, len(ms))
	if err != nil {
		return 0, err
	}
	if fresh {
		return 0, fmt.Errorf("%w (the file is empty)", ErrNotRepli)
	}
	return version, nil
}

// migrate applies the embedded migrations under the write lock, re-reading
// the version inside the transaction so two consoles cannot both apply one.
// Schema and version are committed together.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("lock for migration: %w", err)
	}
	defer tx.Rollback()
	version, _, err := identify(ctx, tx, len(ms))
	if err != nil {
		return err
	}
	if version == len(ms) {
		return nil
	}
	for i := version; i < len(ms); i++ {
		if _, err := tx.ExecContext(ctx, ms[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", len(ms), applicationID)); err != nil {
		return fmt.Errorf("record schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}
