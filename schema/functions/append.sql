-- consult.append(…): appends one event. consult.append_batch falls back to it for batches whose
-- events depend on each other, and consult.append_batch_sealed uses it for a batch of one.
--
-- Appends one event, checking the idempotency key and the stream's expected version under the
-- log lock, so the checks cannot race. The two expected refusals are returned, not raised, so
-- that one refused event does not abort the batch it travels in.
--   expected_version: NULL = any, 0 = the stream must not exist yet, n = its last version is n.
--   outcome: 'appended' | 'duplicate' (same key, same type, stream and data: nothing stored)
--          | 'key_conflict' (same key, different content) | 'version_conflict'.
CREATE OR REPLACE FUNCTION consult.append(
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
