-- 006 — personal content sealed under keys kept outside the log, so that it can be erased.
--
-- The log never changes, so personal content (a submission's text, feedback, a withdrawal's reason)
-- is stored in it sealed (AES-256-GCM, docs/PRIVACY.md): each event's content under a key of its
-- own, that key sealed under its organisation's data key, and data keys sealed under the operator's
-- master key, which never enters the database. Deleting an event's key erases its content; the log,
-- its hashes and every metric stay as they were.

-- Organisations' data keys, each sealed under a master key (identified, never stored). During a
-- rotation one data key has a row under the old master key and one under the new.
CREATE TABLE consult.organisation_keys (
    id            uuid        NOT NULL,
    organisation  text        NOT NULL,
    master_key_id text        NOT NULL,       -- hex of the first 16 bytes of SHA-256 of the master key
    wrapped       bytea       NOT NULL,       -- AES-GCM: nonce ‖ sealed data key ‖ tag
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, master_key_id)
);
CREATE INDEX organisation_keys_by_organisation ON consult.organisation_keys (organisation, master_key_id);
COMMENT ON TABLE consult.organisation_keys IS 'Organisations'' data keys, sealed under the operator''s master key.';

-- One key per event with personal content, sealed under the organisation's data key. Erasure deletes
-- rows here: by organisation, by consultation (retention) or by submission.
CREATE TABLE consult.content_keys (
    event_id         uuid  PRIMARY KEY,
    organisation     text  NOT NULL,
    consultation     text  NOT NULL,
    submission_key   text  NOT NULL,
    organisation_key uuid  NOT NULL,
    wrapped          bytea NOT NULL
);
CREATE INDEX content_keys_by_submission ON consult.content_keys (organisation, consultation, submission_key);
CREATE INDEX content_keys_by_consultation ON consult.content_keys (consultation);
COMMENT ON TABLE consult.content_keys IS 'Each event''s content key, sealed under its organisation''s data key. Delete to erase.';

-- consult.append_batch, storing with each appended event the key its content is sealed under
-- (key_* element i belongs to event i; NULL when the event carries no personal content), in the
-- same statement and so the same transaction: no content is ever stored without its key.
CREATE FUNCTION consult.append_batch_sealed(
    event_ids uuid[], streams text[], types text[], datas jsonb[], metadatas jsonb[],
    expected_versions bigint[], idempotency_keys text[],
    key_organisations text[], key_consultations text[], key_submissions text[], key_organisation_keys uuid[], key_wrapped text[]
) RETURNS TABLE (outcome text, log_position bigint, stream_version bigint)
LANGUAGE sql AS $$
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
    SELECT outcome, log_position, stream_version FROM appended ORDER BY n
$$;

-- consult_app seals, opens and erases (consultd and consultctl); analysts never see a key.
REVOKE ALL ON consult.organisation_keys, consult.content_keys FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON consult.organisation_keys, consult.content_keys TO consult_app;
REVOKE ALL ON FUNCTION consult.append_batch_sealed(uuid[], text[], text[], jsonb[], jsonb[], bigint[], text[],
                                                   text[], text[], text[], uuid[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION consult.append_batch_sealed(uuid[], text[], text[], jsonb[], jsonb[], bigint[], text[],
                                                      text[], text[], text[], uuid[], text[]) TO consult_app;
