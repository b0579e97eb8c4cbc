-- consult.notify_registry(): trigger events_notify_registry (AFTER INSERT, once per statement).
--
-- Organisations, credentials and consultations change seldom, and every daemon keeps them in
-- memory: an insert of any of their events notifies consult_registry (at commit), so a daemon
-- catches up when they change instead of asking the database before each AUTH. The types are
-- Domain's Registry.eventTypes (a test checks it).
CREATE OR REPLACE FUNCTION consult.notify_registry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM inserted_events
                WHERE type = ANY (consult.event_types('organisation', 'credential', 'consultation'))) THEN
        PERFORM pg_notify('consult_registry', '');
    END IF;
    RETURN NULL;
END $$;
