-- 008 — the write path, measured (issue 17, docs/PERFORMANCE.md).
--
-- Edited in 0.17 (issue 24): the two functions this file redefined live in schema/functions/ and
-- their privileges in schema/privileges/functions.sql; what is left is the old signature's removal.
-- A database migrated before the edit ends the same (MigrationsTests checks it).

-- 1. "Nothing lies beyond the inserted rows" was EXISTS (… WHERE position > last). Once PL/pgSQL
-- cached a generic plan for it, that plan was a sequential scan from the start of the log: every
-- append cost more as the log grew (0.8 ms at 10,000 events, more than the fsync). The newest
-- position is one step down the primary key whatever the plan.
-- (schema/functions/check_positions.sql)

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
-- (schema/functions/append_batch_sealed.sql, with the new last parameter registry_position.) The
-- signature without it goes; a database made after 0.17 never had it, as 006 no longer creates it.
DROP FUNCTION IF EXISTS consult.append_batch_sealed(uuid[], text[], text[], jsonb[], jsonb[], bigint[], text[],
                                                    text[], text[], text[], uuid[], text[]);
