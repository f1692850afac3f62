-- Where each run ended in the chain. Removing the last events of the chain
-- leaves a shorter chain that still verifies; a run row that says it ended at
-- an event the chain no longer has shows the cut. Backfilled from the events
-- of runs that ended before this migration.
ALTER TABLE runs ADD COLUMN end_event_id INTEGER;
ALTER TABLE runs ADD COLUMN end_hash     TEXT;

UPDATE runs SET
    end_event_id = (SELECT e.id   FROM events e WHERE e.run_id = runs.id AND e.kind = 'run.ended' ORDER BY e.id DESC LIMIT 1),
    end_hash     = (SELECT e.hash FROM events e WHERE e.run_id = runs.id AND e.kind = 'run.ended' ORDER BY e.id DESC LIMIT 1)
WHERE ended_at IS NOT NULL;

-- An ended run is sealed; no run is ever deleted.
CREATE TRIGGER runs_sealed BEFORE UPDATE ON runs WHEN OLD.ended_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'an ended run is sealed'); END;
CREATE TRIGGER runs_no_delete BEFORE DELETE ON runs
BEGIN SELECT RAISE(ABORT, 'runs are never deleted'); END;

-- Leases: which console drives a run, one at a time. Mutable state, not
-- evidence: taking over a lease is recorded as a lease.takeover event.
CREATE TABLE leases (
    run_id       INTEGER PRIMARY KEY REFERENCES runs(id),
    token        TEXT    NOT NULL,
    operator     TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    proc_start   TEXT    NOT NULL DEFAULT '', -- boot id and start time of pid, to tell a reused pid
    ssh_client   TEXT    NOT NULL DEFAULT '',
    console      TEXT    NOT NULL DEFAULT '',
    acquired_at  TEXT    NOT NULL,
    heartbeat_at TEXT    NOT NULL
);
