-- consult.append_batch(…): appends a batch in one statement.
--
-- consult.append costs a function call, two lookups and a notification per event, and the position
-- trigger a PL/pgSQL call per row; a group commit of a few hundred events paid that a few hundred
-- times. This decides every event of a batch with two joins and stores the appended ones with one
-- INSERT whose positions it numbers itself, under the same log lock, with the same outcomes, one row
-- per event in the order given. consult.check_positions proves, once per statement, that the
-- numbered rows continue the log.
--
-- Appends events given as parallel arrays (element i of each array is event i). Same checks and
-- outcomes as consult.append. When events of the batch depend on each other (two for one stream, or
-- one idempotency key twice, e.g. a submission and its withdrawal), they are appended one by one
-- through consult.append instead, so that each sees the ones before it.
CREATE OR REPLACE FUNCTION consult.append_batch(
    event_ids uuid[], streams text[], types text[], datas jsonb[], metadatas jsonb[],
    expected_versions bigint[], idempotency_keys text[]
) RETURNS TABLE (outcome text, log_position bigint, stream_version bigint)
LANGUAGE plpgsql AS $$
DECLARE
    size int := coalesce(cardinality(streams), 0);
    head bigint;
BEGIN
    IF size = 0 THEN
        RETURN;
    END IF;
    IF cardinality(event_ids) <> size OR cardinality(types) <> size OR cardinality(datas) <> size
       OR cardinality(metadatas) <> size OR cardinality(expected_versions) <> size OR cardinality(idempotency_keys) <> size THEN
        RAISE EXCEPTION 'consult.append_batch: the arrays differ in length' USING ERRCODE = '22023';
    END IF;
    PERFORM consult.lock_log();

    IF (SELECT count(DISTINCT s) FROM unnest(streams) AS s) < size
       OR (SELECT count(k) <> count(DISTINCT k) FROM unnest(idempotency_keys) AS k) THEN
        RETURN QUERY
            SELECT a.outcome, a.log_position, a.stream_version
              FROM generate_subscripts(streams, 1) AS i,
                   LATERAL consult.append(event_ids[i], streams[i], types[i], datas[i], metadatas[i],
                                          expected_versions[i], idempotency_keys[i]) AS a
             ORDER BY i;
        RETURN;
    END IF;

    SELECT coalesce(max(e.position), 0) INTO head FROM consult.events e;
    RETURN QUERY
    WITH input AS (
        SELECT * FROM unnest(event_ids, streams, types, datas, metadatas, expected_versions, idempotency_keys)
               WITH ORDINALITY AS u(event_id, stream, type, data, metadata, expected, key, n)
    ), decided AS (
        SELECT i.*, found.position AS found_position, found.version AS found_version,
               coalesce(head.version, 0) AS current_version,
               CASE WHEN found.position IS NOT NULL THEN CASE WHEN found.same THEN 'duplicate' ELSE 'key_conflict' END
                    WHEN i.expected IS NOT NULL AND i.expected <> coalesce(head.version, 0) THEN 'version_conflict'
                    ELSE 'appended' END AS outcome
          FROM input i
          LEFT JOIN LATERAL (
              SELECT e.position, e.version, (e.stream = i.stream AND e.type = i.type AND e.data = i.data) AS same
                FROM consult.events e WHERE e.idempotency_key = i.key
          ) found ON true
          LEFT JOIN LATERAL (
              SELECT max(e.version) AS version FROM consult.events e WHERE e.stream = i.stream
          ) head ON true
    ), inserted AS (
        INSERT INTO consult.events AS e (position, recorded_at, event_id, stream, version, type, data, metadata, idempotency_key)
        SELECT head + row_number() OVER (ORDER BY d.n), clock_timestamp(), d.event_id, d.stream, d.current_version + 1,
               d.type, d.data, coalesce(d.metadata, '{}'), d.key
          FROM decided d WHERE d.outcome = 'appended'
        RETURNING e.stream, e.position, e.version
    )
    SELECT d.outcome,
           CASE d.outcome WHEN 'appended' THEN ins.position WHEN 'version_conflict' THEN NULL ELSE d.found_position END,
           CASE d.outcome WHEN 'appended' THEN ins.version WHEN 'version_conflict' THEN d.current_version ELSE d.found_version END
      FROM decided d LEFT JOIN inserted ins ON ins.stream = d.stream
     ORDER BY d.n;

    PERFORM pg_notify('consult_log', '');   -- delivered at commit, if there is one; harmless otherwise
END $$;
