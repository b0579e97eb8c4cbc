-- 004 — a write lock that only the log's writers can take, and a channel for registry changes.
--
-- consult.lock_log took a fixed advisory key. Advisory locks carry no privileges: a session of any
-- role, the read-only analyst included, could take that key and stall every append for as long as
-- it held it. A table lock needs privileges on the table: nobody but the owner has any on
-- consult.log_lock, and only consult_app may call consult.lock_log, which takes it as the owner.
-- Like the advisory lock it replaces, it is held to the end of the transaction and released only
-- after the commit is visible, so the argument in 001 for gap-free reading holds unchanged.
--
-- Edited in 0.17 (issue 24): consult.lock_log's new definition and consult.notify_registry, created
-- here, live in schema/functions/ and their privileges in schema/privileges/functions.sql. A database
-- migrated before the edit ends the same (MigrationsTests checks it).

CREATE TABLE consult.log_lock ();
COMMENT ON TABLE consult.log_lock IS 'Holds no rows: locked (EXCLUSIVE) by every append, through consult.lock_log().';
REVOKE ALL ON consult.log_lock FROM PUBLIC;

-- consult.lock_log takes it: schema/functions/lock_log.sql.

-- Organisations, credentials and consultations change seldom, and every daemon keeps them in
-- memory: an insert of any of their events notifies consult_registry (at commit), so a daemon
-- catches up when they change instead of asking the database before each AUTH
-- (consult.notify_registry, schema/functions/notify_registry.sql).
CREATE TRIGGER events_notify_registry AFTER INSERT ON consult.events
    REFERENCING NEW TABLE AS inserted_events FOR EACH STATEMENT EXECUTE FUNCTION consult.notify_registry();
