-- 009 — the projector's fold, kept beside the checkpoint, so that a daemon resumes from it.
--
-- The projector used to fold the whole log again at every start, holding every submission in
-- memory: start-up and memory grew with the log. Now each projection write also stores, per
-- consultation it touched, the fold's running totals and the latest outcome's citations (JSON,
-- consultd's own format, numbered by `snapshot`), and the time of the last event folded. A start
-- reads these, the registry's few events, and goes on from the checkpoint. Submissions stay in the
-- log: a withdrawal or feedback reads its submission's stream back (by the stream index).

ALTER TABLE consult.projection_checkpoint
    ADD COLUMN recorded_at timestamptz,   -- when the event at position was recorded (the fold's "now")
    ADD COLUMN snapshot integer,          -- format of consult.fold_state's rows; NULL: none kept
    ADD COLUMN snapshot_position bigint;  -- the position consult.fold_state is as of
COMMENT ON COLUMN consult.projection_checkpoint.snapshot IS
    'Format of consult.fold_state (NULL: no snapshot; the projector folds from 0).';
-- A consultd from before this migration still runs on it (it needs an older schema), and moves
-- position alone: a snapshot is used only when it is as of the checkpoint's position.
COMMENT ON COLUMN consult.projection_checkpoint.snapshot_position IS
    'Position consult.fold_state is as of; unless it equals position, the snapshot is not used.';

CREATE TABLE consult.fold_state (
    consultation text  PRIMARY KEY,
    state        text NOT NULL            -- JSON: the consultation's running totals and citations
);
COMMENT ON TABLE consult.fold_state IS
    'The projector''s fold per consultation as of the checkpoint: disposable, rewritten by a rebuild.';

REVOKE ALL ON consult.fold_state FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON consult.fold_state TO consult_app;
