package store

import (
	"context"
	"database/sql"
	"sync"
)

// execQuerier is a transaction, or a cachedTx over one.
type execQuerier interface {
	querier
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// stmtCache holds statements prepared on the pool, by their text. SQLite
// parses and plans a statement each time it is prepared; the append path
// runs the same five statements for every event, so they are prepared once
// and bound to each transaction's connection (sql.Tx.StmtContext reuses the
// statement already prepared on that connection).
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil // the transaction runs it unprepared, and reports the error
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// cachedTx runs statements inside tx through the store's prepared ones.
type cachedTx struct {
	tx *sql.Tx
	s  *Store
}

func (s *Store) cached(tx *sql.Tx) *cachedTx { return &cachedTx{tx: tx, s: s} }

func (q *cachedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	st := q.s.stmts.get(ctx, q.s.db, query)
	if st == nil {
		return nil
	}
	return q.tx.StmtContext(ctx, st)
}

func (q *cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}

func (q *cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}
