-- 003 — appending a batch in one statement.
--
-- consult.append costs a function call, two lookups and a notification per event, and the position
-- trigger a PL/pgSQL call per row; a group commit of a few hundred events paid that a few hundred
-- times. consult.append_batch decides every event of a batch with two joins and stores the appended
-- ones with one INSERT whose positions it numbers itself, under the same log lock, with the same
-- outcomes, one row per event in the order given. The guarantees move from each row to each
-- statement: whoever numbers the rows, one check per INSERT proves they continue the log.
--
-- Edited in 0.17 (issue 24): consult.check_positions and consult.append_batch, created here, live in
-- schema/functions/ and their privileges in schema/privileges/functions.sql; this file keeps the
-- triggers. A database migrated before the edit ends the same (MigrationsTests checks it).

-- Rows that come with a position skip the per-row numbering ...
DROP TRIGGER events_assign_position ON consult.events;
CREATE TRIGGER events_assign_position BEFORE INSERT ON consult.events
    FOR EACH ROW WHEN (NEW.position IS NULL) EXECUTE FUNCTION consult.assign_position();

-- ... and every INSERT, numbered by consult.append_batch or by the row trigger, must continue the log:
-- consult.check_positions (schema/functions/check_positions.sql) checks it once per statement.
CREATE TRIGGER events_check_positions AFTER INSERT ON consult.events
    REFERENCING NEW TABLE AS inserted_events FOR EACH STATEMENT EXECUTE FUNCTION consult.check_positions();
