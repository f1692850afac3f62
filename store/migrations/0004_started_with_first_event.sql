-- A run exists from its first event on. CreateRun only reserves the id (a
-- row with start_event_id NULL, listed nowhere); the append of run.started
-- fills the row from that event and sets start_event_id, in one
-- transaction. A console killed between the two leaves a reservation, not a
-- run that stays "running" forever and can never be resumed.
ALTER TABLE runs ADD COLUMN start_event_id INTEGER;

-- Runs written before: start_event_id from their run.started event, and
-- started_at from it too (it was the console's clock at CreateRun, a moment
-- earlier), so that verify can hold every shown field to the chained events.
-- Rows without a run.started event stay reservations. The seal is lifted for
-- this one statement only.
DROP TRIGGER runs_sealed;
UPDATE runs SET
    start_event_id = (SELECT e.id FROM events e WHERE e.run_id = runs.id AND e.seq = 1 AND e.kind = 'run.started'),
    started_at = coalesce((SELECT e.at FROM events e WHERE e.run_id = runs.id AND e.seq = 1 AND e.kind = 'run.started'), started_at);
CREATE TRIGGER runs_sealed BEFORE UPDATE ON runs WHEN OLD.ended_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'an ended run is sealed'); END;

-- An approval sent from another console carries the approver's signature
-- (sshsig, namespace repli) over a statement naming the gate it answers, or
-- says why it is unsigned. The driving console copies both into the chained
-- signature event of the gate.decided it writes.
ALTER TABLE approvals ADD COLUMN statement TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN signature TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN unsigned  TEXT NOT NULL DEFAULT '';
