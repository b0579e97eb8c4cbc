-- 008 — the write path, measured (issue 17, docs/PERFORMANCE.md).

-- 1. "Nothing lies beyond the inserted rows" was EXISTS (… WHERE position > last). Once PL/pgSQL
-- cached a generic plan for it, that plan was a sequential scan from the start of the log: every
-- append cost more as the log grew (0.8 ms at 10,000 events, more than the fsync). The newest
-- position is one step down the primary key whatever the plan.
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

-- 2. consultd decided each batch against its registry as of a position, and used to read the
-- registry's newest events before every batch to be sure: a round trip per commit. Now it says
-- which position it decided as of, and the append checks, under the log lock, that no
-- consultation or organisation event came after it (one step down the small events_registry
-- index). If one did, nothing is stored and every row says 'registry_moved': the daemon catches
-- up and decides again. PL/pgSQL rather than SQL, so that its plans are kept between calls.
--
-- 3. A batch of one (every commit, at a few submissions a second) goes through consult.append:
-- its few index look-ups cost 0.6 ms less than append_batch's set-based statement, measured with
-- pgbench at 100 calls/s, where each call meets a cold backend.
DROP FUNCTION consult.append_batch_sealed(uuid[], text[], text[], jsonb[], jsonb[], bigint[], text[],
                                          text[], text[], text[], uuid[], text[]);
CREATE FUNCTION consult.append_batch_sealed(
    event_ids uuid[], streams text[], types text[], datas jsonb[], metadatas jsonb[],
    expected_versions bigint[], idempotency_keys text[],
    key_organisations text[], key_consultations text[], key_submissions text[], key_organisation_keys uuid[], key_wrapped text[],
    registry_position bigint DEFAULT NULL
) RETURNS TABLE (outcome text, log_position bigint, stream_version bigint)
LANGUAGE plpgsql AS $$
DECLARE
    single record;
BEGIN
    PERFORM consult.lock_log();
    IF registry_position IS NOT NULL AND registry_position < (
        SELECT coalesce(max(e.position), 0) FROM consult.events e
         WHERE e.type IN ('ConsultationOpened', 'ConsultationClosed', 'OrganisationRegistered', 'OrganisationProfileChanged'))
    THEN
        RETURN QUERY SELECT 'registry_moved'::text, NULL::bigint, NULL::bigint FROM generate_subscripts(streams, 1);
        RETURN;
    END IF;
    IF cardinality(streams) = 1 THEN
        SELECT * INTO single
          FROM consult.append(event_ids[1], streams[1], types[1], datas[1], metadatas[1], expected_versions[1], idempotency_keys[1]);
        IF single.outcome = 'appended' AND key_wrapped[1] IS NOT NULL THEN
            INSERT INTO consult.content_keys (event_id, organisation, consultation, submission_key, organisation_key, wrapped)
            VALUES (event_ids[1], key_organisations[1], key_consultations[1], key_submissions[1], key_organisation_keys[1],
                    decode(key_wrapped[1], 'base64'));
        END IF;
        RETURN QUERY SELECT single.outcome, single.log_position, single.stream_version;
        RETURN;
    END IF;
    RETURN QUERY
    WITH appended AS (
        SELECT a.outcome, a.log_position, a.stream_version, a.n
          FROM consult.append_batch(event_ids, streams, types, datas, metadatas, expected_versions, idempotency_keys)
               WITH ORDINALITY AS a(outcome, log_position, stream_version, n)
    ), kept AS (
        INSERT INTO consult.content_keys (event_id, organisation, consultation, submission_key, organisation_key, wrapped)
        SELECT k.event_id, k.organisation, k.consultation, k.submission, k.organisation_key, decode(k.wrapped, 'base64')
          FROM unnest(event_ids, key_organisations, key_consultations, key_submissions, key_organisation_keys, key_wrapped)
               WITH ORDINALITY AS k(event_id, organisation, consultation, submission, organisation_key, wrapped, n)
          JOIN appended a ON a.n = k.n
         WHERE a.outcome = 'appended' AND k.wrapped IS NOT NULL
    )
    SELECT a.outcome, a.log_position, a.stream_version FROM appended a ORDER BY a.n;
END $$;

REVOKE ALL ON FUNCTION consult.append_batch_sealed(uuid[], text[], text[], jsonb[], jsonb[], bigint[], text[],
                                                   text[], text[], text[], uuid[], text[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION consult.append_batch_sealed(uuid[], text[], text[], jsonb[], jsonb[], bigint[], text[],
                                                      text[], text[], text[], uuid[], text[], bigint) TO consult_app;
