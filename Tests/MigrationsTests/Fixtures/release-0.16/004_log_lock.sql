-- 004 — a write lock that only the log's writers can take, and a channel for registry changes.
--
-- consult.lock_log took a fixed advisory key. Advisory locks carry no privileges: a session of any
-- role, the read-only analyst included, could take that key and stall every append for as long as
-- it held it. A table lock needs privileges on the table: nobody but the owner has any on
-- consult.log_lock, and only consult_app may call consult.lock_log, which takes it as the owner.
-- Like the advisory lock it replaces, it is held to the end of the transaction and released only
-- after the commit is visible, so the argument in 001 for gap-free reading holds unchanged.

CREATE TABLE consult.log_lock ();
COMMENT ON TABLE consult.log_lock IS 'Holds no rows: locked (EXCLUSIVE) by every append, through consult.lock_log().';
REVOKE ALL ON consult.log_lock FROM PUBLIC;

CREATE OR REPLACE FUNCTION consult.lock_log() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    LOCK TABLE consult.log_lock IN EXCLUSIVE MODE;
END $$;

REVOKE ALL ON FUNCTION consult.lock_log() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION consult.lock_log() TO consult_app;

-- Organisations, credentials and consultations change seldom, and every daemon keeps them in
-- memory: an insert of any of their events notifies consult_registry (at commit), so a daemon
-- catches up when they change instead of asking the database before each AUTH.
CREATE FUNCTION consult.notify_registry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM inserted_events
                WHERE type IN ('OrganisationRegistered', 'OrganisationProfileChanged', 'CredentialIssued',
                               'CredentialRevoked', 'ConsultationOpened', 'ConsultationClosed')) THEN
        PERFORM pg_notify('consult_registry', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER events_notify_registry AFTER INSERT ON consult.events
    REFERENCING NEW TABLE AS inserted_events FOR EACH STATEMENT EXECUTE FUNCTION consult.notify_registry();
REVOKE ALL ON FUNCTION consult.notify_registry() FROM PUBLIC;
