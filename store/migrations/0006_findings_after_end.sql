-- An ended run is sealed in the events table too, not only in the code that
-- appends: nothing is inserted into a run after its run.ended (and that
-- event's signature, written before the run's row is closed) but a finding,
-- the review's observation with its corrective action (repli note RUN
-- --finding), numbered next in the run's sequence, and the signature event
-- right after it. A finding is only for an ended run: during a run, notes
-- are the console's.
CREATE TRIGGER events_sealed BEFORE INSERT ON events
WHEN (SELECT ended_at FROM runs WHERE id = NEW.run_id) IS NOT NULL
 AND NOT (NEW.kind = 'finding'
          AND NEW.seq = (SELECT coalesce(max(seq), 0) + 1 FROM events WHERE run_id = NEW.run_id))
 AND NOT (NEW.kind = 'signature'
          AND NEW.seq = -(SELECT max(seq) FROM events WHERE run_id = NEW.run_id)
          AND (SELECT kind FROM events WHERE run_id = NEW.run_id AND seq = -NEW.seq) = 'finding')
BEGIN SELECT RAISE(ABORT, 'an ended run is sealed: only a finding may be added to it'); END;

CREATE TRIGGER findings_after_end BEFORE INSERT ON events
WHEN NEW.kind = 'finding' AND (SELECT ended_at FROM runs WHERE id = NEW.run_id) IS NULL
BEGIN SELECT RAISE(ABORT, 'a finding is only added to a run that has ended'); END;
