-- 001 — the event log: one append-only table, the single source of truth.
--
-- Guarantees (SPEC.md, "The log"):
--   * events are never updated or deleted: triggers refuse it, for every role, owner included;
--   * positions are gap-free and become visible in position order, so a reader that follows the
--     log with "position > last seen" never skips an event (see consult.assign_position);
--   * consult_app may INSERT and SELECT on the log and nothing else on it;
--     consult_analyst sees only the analytics schema.
--
-- The log's functions (consult.lock_log, consult.assign_position, consult.refuse_change,
-- consult.append) are in schema/functions/, who may call them in schema/privileges/functions.sql.
-- Edited in 0.17 (issue 24): they were created here; a database migrated before the edit has the
-- same objects after `consultctl migrate` as a new one (MigrationsTests checks it).

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

-- Numbered by consult.assign_position (schema/functions/assign_position.sql) under the log's write lock.
CREATE TRIGGER events_assign_position BEFORE INSERT ON consult.events
    FOR EACH ROW EXECUTE FUNCTION consult.assign_position();

-- Refused for every role, the owner included: consult.refuse_change (schema/functions/refuse_change.sql).
CREATE TRIGGER events_no_update BEFORE UPDATE ON consult.events
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();
CREATE TRIGGER events_no_delete BEFORE DELETE ON consult.events
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON consult.events
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();

-- Privileges: nothing for PUBLIC; consult_app appends and reads; consult_analyst gets only analytics
-- (on the functions: schema/privileges/functions.sql).
REVOKE ALL ON ALL TABLES IN SCHEMA consult FROM PUBLIC;

GRANT USAGE ON SCHEMA consult TO consult_app;
GRANT SELECT, INSERT ON consult.events TO consult_app;
GRANT SELECT ON consult.schema_migrations TO consult_app;      -- consultd checks the schema version

CREATE SCHEMA analytics;
COMMENT ON SCHEMA analytics IS 'Documented, read-only views for analysts (consult_analyst).';
REVOKE ALL ON SCHEMA analytics FROM PUBLIC;
GRANT USAGE ON SCHEMA analytics TO consult_analyst, consult_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO consult_analyst;
