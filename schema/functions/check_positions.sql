-- consult.check_positions(): trigger events_check_positions (AFTER INSERT, once per statement, with
-- the inserted rows as a transition table).
--
-- Every INSERT, numbered by consult.append_batch or by the row trigger, must continue the log: its
-- positions are contiguous, follow the last one before them and nothing lies beyond, checked while
-- holding the log lock with a fresh snapshot, so a writer that numbered rows without the lock fails
-- instead of leaving a gap. Log time must be the time of writing (between the transaction's start
-- and now). The transaction's position counter moves past the rows, so a later insert in it numbers
-- on from them.
--
-- "Nothing lies beyond the inserted rows" is max(position) = last, not EXISTS (… WHERE position >
-- last): once PL/pgSQL cached a generic plan for the EXISTS, that plan was a sequential scan from the
-- start of the log and every append cost more as the log grew (issue 17, docs/PERFORMANCE.md). The
-- newest position is one step down the primary key whatever the plan.
CREATE OR REPLACE FUNCTION consult.check_positions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    first    bigint;
    last     bigint;
    size     bigint;
    bad_time boolean;
    before   bigint;
    newest   bigint;
BEGIN
    SELECT min(position), max(position), count(*), bool_or(recorded_at < now() OR recorded_at > clock_timestamp())
      INTO first, last, size, bad_time FROM inserted_events;
    IF size = 0 THEN
        RETURN NULL;
    END IF;
    PERFORM consult.lock_log();
    SELECT coalesce(max(e.position), 0) INTO before FROM consult.events e WHERE e.position < first;
    SELECT max(e.position) INTO newest FROM consult.events e;
    IF last - first + 1 <> size OR before <> first - 1 OR newest <> last THEN
        RAISE EXCEPTION 'consult.events: positions % to % do not continue the log (last before them: %)', first, last, before
            USING ERRCODE = 'CL002', HINT = 'Leave position empty: the database numbers events.';
    END IF;
    IF bad_time THEN
        RAISE EXCEPTION 'consult.events: recorded_at must be the time of writing'
            USING ERRCODE = 'CL002', HINT = 'Leave recorded_at empty: the database sets it.';
    END IF;
    PERFORM set_config('consult.last_position', txid_current()::text || ':' || last, true);
    RETURN NULL;
END $$;
