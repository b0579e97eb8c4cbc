-- 005 — a tamper-evident log: a Merkle tree over the events (RFC 9162) and signed checkpoints.
--
-- The database refuses changes to the log, but whoever administers it can switch that off. So each
-- event is also a leaf of a Merkle tree (leaf i is the event at position i + 1, hashed as
-- docs/TRUST.md says), and consultd signs checkpoints of the tree with the operator's Ed25519 key.
-- A receipt proves an event's inclusion in a checkpoint; `consultctl verify` recomputes everything
-- from the log. The nodes stored here are only a cache that makes proofs cheap: nothing trusts them.
--
-- Edited in 0.17 (issue 24): consult.refuse_change's new definition, made here, lives in
-- schema/functions/refuse_change.sql. A database migrated before the edit ends the same.

-- Roots of perfect subtrees: 2^level leaves starting at leaf index * 2^level. Level 0 holds the leaves.
CREATE TABLE consult.merkle_nodes (
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
    index bigint   NOT NULL CHECK (index >= 0),
    hash  bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, index)
);
COMMENT ON TABLE consult.merkle_nodes IS
    'Perfect subtrees of the Merkle tree over consult.events (a cache for proofs; consultctl verify recomputes it).';

-- Signed checkpoints: the tree's size and root at a moment, signed with the operator's key.
CREATE TABLE consult.checkpoints (
    tree_size bigint      PRIMARY KEY CHECK (tree_size >= 1),
    root      bytea       NOT NULL CHECK (length(root) = 32),
    log_time  timestamptz NOT NULL,                 -- recorded_at of the event at position tree_size
    key_id    text        NOT NULL,                 -- hex SHA-256 of the public key, its first 16 bytes
    signature bytea       NOT NULL CHECK (length(signature) = 64),
    signed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE consult.checkpoints IS 'Signed checkpoints of the Merkle tree over the log. Never updated or deleted.';

-- Checkpoints, like the log, are only ever added to: consult.refuse_change (schema/functions/refuse_change.sql,
-- which names the table since this migration) refuses the rest.
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON consult.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON consult.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON consult.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION consult.refuse_change();

-- Checkpoints are public (reports publish them): analysts may read them.
CREATE VIEW analytics.checkpoints AS
    SELECT tree_size, encode(root, 'hex') AS root, log_time, key_id, encode(signature, 'hex') AS signature
      FROM consult.checkpoints;
COMMENT ON VIEW analytics.checkpoints IS
    'Signed checkpoints of the log (docs/TRUST.md): tree size, root, log time, key id and Ed25519 signature, in hex.';

REVOKE ALL ON consult.merkle_nodes, consult.checkpoints FROM PUBLIC;
GRANT SELECT, INSERT ON consult.merkle_nodes, consult.checkpoints TO consult_app;
GRANT SELECT ON analytics.checkpoints TO consult_analyst;
