-- Approvals sent from another console (repli approve) for a gate that needs
-- more than one approver. A row is a request, not evidence: the driving
-- console reads it and journals the decision as a gate.decided event.
CREATE TABLE approvals (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs(id),
    step       TEXT    NOT NULL,
    operator   TEXT    NOT NULL,
    host       TEXT    NOT NULL DEFAULT '',
    ssh_client TEXT    NOT NULL DEFAULT '',
    typed      TEXT    NOT NULL DEFAULT '',
    at         TEXT    NOT NULL
);
CREATE INDEX approvals_run ON approvals (run_id, id);
