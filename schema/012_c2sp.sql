-- 012 — checkpoints as C2SP signed notes, the log's origin, and witnesses' cosignatures.
--
-- docs/TRUST.md, "Checkpoints" and "Witnesses". The origin (the first line of every C2SP checkpoint,
-- and the name of the log's signing key) is set once by the operator (`consultd --log-origin`) and
-- kept here so it never changes silently: consultd refuses to start with another. Checkpoints
-- signed before it keep their first form (origin NULL); those signed after carry the origin, their
-- key_id is the signed-note key ID (8 hex digits) and their signature is over the note's text.

-- One row, ever: the origin of this log.
CREATE TABLE consult.log_origin (
    only_row boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    origin   text        NOT NULL CHECK (origin <> '' AND origin !~ '[[:space:]+]'),
    set_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE consult.log_origin IS 'The log''s C2SP origin line, set once (consultd --log-origin). Never updated or deleted.';

-- NULL: a checkpoint of the first form (consultd-checkpoint-v1).
ALTER TABLE consult.checkpoints ADD COLUMN origin text;
COMMENT ON COLUMN consult.checkpoints.origin IS
    'The C2SP origin of a checkpoint signed as a signed note (c2sp.org/tlog-checkpoint); NULL for the first form.';

-- Witnesses' cosignatures (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1) of stored checkpoints.
CREATE TABLE consult.cosignatures (
    tree_size    bigint      NOT NULL,                      -- the checkpoint's (no foreign key: verify checks each against it)
    witness_name text        NOT NULL,                      -- the witness's key name (its signature line's name)
    key_id       text        NOT NULL CHECK (key_id ~ '^[0-9a-f]{8}$'),  -- signed-note key ID, type 0x04
    cosigned_at  bigint      NOT NULL CHECK (cosigned_at > 0),          -- the cosignature's timestamp, POSIX seconds
    signature    bytea       NOT NULL CHECK (length(signature) = 64),   -- Ed25519 over cosignature/v1 ‖ time ‖ note text
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tree_size, witness_name, key_id)
);
COMMENT ON TABLE consult.cosignatures IS 'Witnesses'' cosignatures of signed checkpoints. Never updated or deleted.';

CREATE TRIGGER log_origin_no_update BEFORE UPDATE ON consult.log_origin
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();
CREATE TRIGGER log_origin_no_delete BEFORE DELETE ON consult.log_origin
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();
CREATE TRIGGER log_origin_no_truncate BEFORE TRUNCATE ON consult.log_origin
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();
CREATE TRIGGER cosignatures_no_update BEFORE UPDATE ON consult.cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();
CREATE TRIGGER cosignatures_no_delete BEFORE DELETE ON consult.cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();
CREATE TRIGGER cosignatures_no_truncate BEFORE TRUNCATE ON consult.cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();

REVOKE ALL ON consult.log_origin, consult.cosignatures FROM PUBLIC;
-- consultd stores the origin once and the cosignatures it receives; it never changes either.
GRANT SELECT, INSERT ON consult.log_origin, consult.cosignatures TO consult_app;
