-- Who may call the functions of schema/functions/: nobody but their owner unless granted here.
--
-- `consultctl migrate` applies this file on every run, after the numbered migrations (001 makes the
-- roles) and in the same transaction as them and as schema/functions/. REVOKE and GRANT change
-- nothing when they are already so, so running it again is harmless; a function that is dropped and
-- made again (a new signature) gets its privileges back from here. Privileges on tables, views and
-- schemas stay in the numbered migration that made the object.
--
-- PUBLIC may execute any new function: each is taken from it first, then given to whom needs it.

-- The log's write lock: only its writers take it (schema/functions/lock_log.sql says why).
REVOKE ALL ON FUNCTION consult.lock_log() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION consult.lock_log() TO consult_app;

-- Trigger functions: PostgreSQL calls them; no role needs to.
REVOKE ALL ON FUNCTION consult.assign_position() FROM PUBLIC;
REVOKE ALL ON FUNCTION consult.refuse_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION consult.check_positions() FROM PUBLIC;
REVOKE ALL ON FUNCTION consult.notify_registry() FROM PUBLIC;

-- Appending: consultd and consultctl, as consult_app.
REVOKE ALL ON FUNCTION consult.append(uuid, text, text, jsonb, jsonb, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION consult.append(uuid, text, text, jsonb, jsonb, bigint, text) TO consult_app;
REVOKE ALL ON FUNCTION consult.append_batch(uuid[], text[], text[], jsonb[], jsonb[], bigint[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION consult.append_batch(uuid[], text[], text[], jsonb[], jsonb[], bigint[], text[]) TO consult_app;
REVOKE ALL ON FUNCTION consult.append_batch_sealed(uuid[], text[], text[], jsonb[], jsonb[], bigint[], text[],
                                                   text[], text[], text[], uuid[], text[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION consult.append_batch_sealed(uuid[], text[], text[], jsonb[], jsonb[], bigint[], text[],
                                                      text[], text[], text[], uuid[], text[], bigint) TO consult_app;

-- The event types' names: the views call it as their reader (consult_analyst), the daemon's
-- statements as consult_app.
REVOKE ALL ON FUNCTION consult.event_types(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION consult.event_types(text[]) TO consult_app, consult_analyst;
