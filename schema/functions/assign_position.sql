-- consult.assign_position(): trigger events_assign_position (BEFORE INSERT, each row that comes
-- without a position). Numbers a row appended through consult.append or a plain INSERT.
--
-- Every insert, however it is made, takes its position under the log's write lock (consult.lock_log):
-- the first in a transaction reads the last committed position (an index lookup), later ones count
-- on from a transaction-local setting tagged with the transaction id, so a batch costs no extra
-- writes and a stale or stray value is never used. A rolled-back savepoint rolls the setting back
-- with its rows: positions stay contiguous. (A session that forged the setting could only cause a
-- refused duplicate or a gap, never a reordering: the lock still orders commits.)
CREATE OR REPLACE FUNCTION consult.assign_position() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    tag  text := txid_current()::text || ':';
    seen text;
    last bigint;
BEGIN
    PERFORM consult.lock_log();
    seen := current_setting('consult.last_position', true);
    IF seen IS NOT NULL AND starts_with(seen, tag) THEN
        last := substr(seen, length(tag) + 1)::bigint;
    ELSE
        SELECT coalesce(max(e.position), 0) INTO last FROM consult.events e;
    END IF;
    NEW.position := last + 1;
    NEW.recorded_at := clock_timestamp();
    PERFORM set_config('consult.last_position', tag || NEW.position, true);
    RETURN NEW;
END $$;
