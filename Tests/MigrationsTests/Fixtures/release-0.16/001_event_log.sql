-- 001 — the event log: one append-only table, the single source of truth.
--
-- Guarantees (SPEC.md, "The log"):
--   * events are never updated or deleted: triggers refuse it, for every role, owner included;
--   * positions are gap-free and become visible in position order, so a reader that follows the
--     log with "position > last seen" never skips an event (see consult.assign_position);
--   * consult_app may INSERT and SELECT on the log and nothing else on it;
--     consult_analyst sees only the analytics schema.

-- Roles are cluster-wide: create them unless they exist (an operator may have made them already,
-- see deploy/roles.sql, so the owner needs no CREATEROLE), tolerating a concurrent creator.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'consult_app') THEN
        CREATE ROLE consult_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'consult_analyst') THEN
        CREATE ROLE consult_analyst NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

CREATE TABLE consult.events (
    position        bigint      PRIMARY KEY,             -- assigned by the trigger below, never by clients
    event_id        uuid        NOT NULL UNIQUE,
    stream          text        NOT NULL CHECK (stream ~ '^[a-z][a-z0-9_]*-.+$'),  -- category-id
    version         bigint      NOT NULL CHECK (version >= 1),
    type            text        NOT NULL CHECK (type ~ '^[A-Za-z][A-Za-z0-9_]*$'),
    data            jsonb       NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    metadata        jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    recorded_at     timestamptz NOT NULL,
    idempotency_key text        UNIQUE,                  -- exact duplicate detection, not a cache
    UNIQUE (stream, version)
);

COMMENT ON TABLE consult.events IS 'The append-only event log. Never updated or deleted.';

-- Takes the log's write lock for the rest of the transaction.
--
-- Why readers never skip: a position is handed out only while holding this lock, and PostgreSQL
-- releases a transaction's locks only after its commit (or abort) is visible to every new snapshot.
-- So the writer of position p+1 could not even compute its number until the writer of p had
-- finished. A reader that sees p+1 therefore also sees p (or p was rolled back, and then p+1 was
-- computed without it and is p): positions are contiguous and commit in order, and "position > last
-- seen" is a complete query. The price is that appends serialise; the daemon pays it once per batch
-- (group commit), not once per event.
CREATE FUNCTION consult.lock_log() RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(7593122107351085390);   -- a fixed key: "the log"
$$;

-- Every insert, however it is made, takes its position under that lock: the first in a transaction
-- reads the last committed position (an index lookup), later ones count on from a transaction-local
-- setting tagged with the transaction id, so a batch costs no extra writes and a stale or stray value
-- is never used. A rolled-back savepoint rolls the setting back with its rows: positions stay
-- contiguous. (A session that forged the setting could only cause a refused duplicate or a gap,
-- never a reordering: the lock still orders commits.)
CREATE FUNCTION consult.assign_position() RETURNS trigger
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

CREATE TRIGGER events_assign_position BEFORE INSERT ON consult.events
    FOR EACH ROW EXECUTE FUNCTION consult.assign_position();

-- Refuses UPDATE, DELETE and TRUNCATE. Statement-level, so it fires even when no row matches.
CREATE FUNCTION consult.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consult.events is append-only: % refused', TG_OP
        USING ERRCODE = 'CL001', HINT = 'Record a new event that corrects or withdraws the old one.';
END $$;

CREATE TRIGGER events_no_update BEFORE UPDATE ON consult.events
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();
CREATE TRIGGER events_no_delete BEFORE DELETE ON consult.events
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON consult.events
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();

-- Appends one event, checking the idempotency key and the stream's expected version under the
-- log lock, so the checks cannot race. The two expected refusals are returned, not raised, so
-- that one refused event does not abort the batch it travels in.
--   expected_version: NULL = any, 0 = the stream must not exist yet, n = its last version is n.
--   outcome: 'appended' | 'duplicate' (same key, same type, stream and data: nothing stored)
--          | 'key_conflict' (same key, different content) | 'version_conflict'.
CREATE FUNCTION consult.append(
    event_id uuid, stream text, type text, data jsonb, metadata jsonb,
    expected_version bigint, idempotency_key text
) RETURNS TABLE (outcome text, log_position bigint, stream_version bigint)
LANGUAGE plpgsql AS $$
DECLARE
    found_position bigint;
    found_version  bigint;
    same_content   boolean;
    current_version        bigint;
BEGIN
    PERFORM consult.lock_log();

    IF append.idempotency_key IS NOT NULL THEN
        SELECT e.position, e.version, (e.stream = append.stream AND e.type = append.type AND e.data = append.data)
          INTO found_position, found_version, same_content
          FROM consult.events e WHERE e.idempotency_key = append.idempotency_key;
        IF FOUND THEN
            RETURN QUERY SELECT CASE WHEN same_content THEN 'duplicate' ELSE 'key_conflict' END,
                                found_position, found_version;
            RETURN;
        END IF;
    END IF;

    SELECT coalesce(max(e.version), 0) INTO current_version FROM consult.events e WHERE e.stream = append.stream;
    IF expected_version IS NOT NULL AND expected_version <> current_version THEN
        RETURN QUERY SELECT 'version_conflict', NULL::bigint, current_version;
        RETURN;
    END IF;

    INSERT INTO consult.events AS e (event_id, stream, version, type, data, metadata, idempotency_key)
    VALUES (append.event_id, append.stream, current_version + 1, append.type, append.data,
            coalesce(append.metadata, '{}'), append.idempotency_key)
    RETURNING e.position INTO found_position;
    PERFORM pg_notify('consult_log', '');   -- delivered at commit; identical payloads fold into one
    RETURN QUERY SELECT 'appended', found_position, current_version + 1;
END $$;

-- Privileges: nothing for PUBLIC; consult_app appends and reads; consult_analyst gets only analytics.
REVOKE ALL ON ALL TABLES IN SCHEMA consult FROM PUBLIC;
REVOKE ALL ON FUNCTION consult.assign_position(), consult.refuse_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION consult.append(uuid, text, text, jsonb, jsonb, bigint, text) FROM PUBLIC;

GRANT USAGE ON SCHEMA consult TO consult_app;
GRANT SELECT, INSERT ON consult.events TO consult_app;
GRANT SELECT ON consult.schema_migrations TO consult_app;      -- consultd checks the schema version
GRANT EXECUTE ON FUNCTION consult.lock_log() TO consult_app;
GRANT EXECUTE ON FUNCTION consult.append(uuid, text, text, jsonb, jsonb, bigint, text) TO consult_app;

CREATE SCHEMA analytics;
COMMENT ON SCHEMA analytics IS 'Documented, read-only views for analysts (consult_analyst).';
REVOKE ALL ON SCHEMA analytics FROM PUBLIC;
GRANT USAGE ON SCHEMA analytics TO consult_analyst, consult_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO consult_analyst;
