-- 006 — personal content sealed under keys kept outside the log, so that it can be erased.
--
-- The log never changes, so personal content (a submission's text, feedback, a withdrawal's reason)
-- is stored in it sealed (AES-256-GCM, docs/PRIVACY.md): each event's content under a key of its
-- own, that key sealed under its organisation's data key, and data keys sealed under the operator's
-- master key, which never enters the database. Deleting an event's key erases its content; the log,
-- its hashes and every metric stay as they were.
--
-- Edited in 0.17 (issue 24): it created consult.append_batch_sealed (a first signature, which 008
-- replaced) and granted it; the current one lives in schema/functions/, its privileges in
-- schema/privileges/functions.sql. A database migrated before the edit ends the same.

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

-- consult.append_batch_sealed (schema/functions/append_batch_sealed.sql) stores each appended event's key
-- with it, in the same statement: no content is ever stored without its key.

-- consult_app seals, opens and erases (consultd and consultctl); analysts never see a key.
REVOKE ALL ON consult.organisation_keys, consult.content_keys FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON consult.organisation_keys, consult.content_keys TO consult_app;
