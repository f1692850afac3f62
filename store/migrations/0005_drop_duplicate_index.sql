-- events_run duplicated the index SQLite keeps for UNIQUE (run_id, seq)
-- (sqlite_autoindex_events_1): every append wrote both. Lookups by run and
-- sequence use the unique index.
DROP INDEX IF EXISTS events_run;
