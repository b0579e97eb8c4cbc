-- consult.refuse_change(): triggers *_no_update, *_no_delete, *_no_truncate on consult.events,
-- consult.checkpoints, and (since 012) consult.log_origin and consult.cosignatures (statement-level,
-- so they fire even when no row matches). These tables are only ever added to: this refuses UPDATE,
-- DELETE and TRUNCATE for every role, the owner included, naming the table (SQLSTATE CL001).
CREATE OR REPLACE FUNCTION consult.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'CL001', HINT = 'Record something new that corrects or supersedes the old.';
END $$;
