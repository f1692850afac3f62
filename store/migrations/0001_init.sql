-- Runs: one row per run, an index over the events. The events are the evidence.
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    runbook         TEXT    NOT NULL,
    title           TEXT    NOT NULL DEFAULT '',
    file            TEXT    NOT NULL DEFAULT '',
    sha256          TEXT    NOT NULL DEFAULT '',
    mode            TEXT    NOT NULL,
    operator        TEXT    NOT NULL,
    host            TEXT    NOT NULL DEFAULT '',
    auto_approve    INTEGER NOT NULL DEFAULT 0,
    started_at      TEXT    NOT NULL,
    ended_at        TEXT,
    outcome         TEXT    NOT NULL DEFAULT 'running',
    reason          TEXT    NOT NULL DEFAULT '',
    rto_target_ns   INTEGER NOT NULL DEFAULT 0,
    rto_achieved_ns INTEGER
);

-- Events: append-only, hash-chained across the whole database in id order.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER NOT NULL REFERENCES runs(id),
    seq       INTEGER NOT NULL,
    at        TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    step      TEXT    NOT NULL DEFAULT '',
    body      TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    UNIQUE (run_id, seq)
);
CREATE INDEX events_run ON events (run_id, seq);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
