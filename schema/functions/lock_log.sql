-- consult.lock_log(): the log's write lock, taken for the rest of the transaction. Every append
-- and every position check calls it; only consult_app may (privileges/functions.sql).
--
-- Why readers never skip: a position is handed out only while holding this lock, and PostgreSQL
-- releases a transaction's locks only after its commit (or abort) is visible to every new snapshot.
-- So the writer of position p+1 could not even compute its number until the writer of p had
-- finished. A reader that sees p+1 therefore also sees p (or p was rolled back, and then p+1 was
-- computed without it and is p): positions are contiguous and commit in order, and "position > last
-- seen" is a complete query. The price is that appends serialise; the daemon pays it once per batch
-- (group commit), not once per event.
--
-- Why a table lock (migration 004) and not the advisory key of 001: advisory locks carry no
-- privileges, so a session of any role, the read-only analyst included, could take the key and
-- stall every append. Nobody but the owner has any privilege on consult.log_lock; this function
-- takes it as the owner. It is held to the end of the transaction and released only after the
-- commit is visible, like the advisory lock was, so the argument above holds unchanged.
CREATE OR REPLACE FUNCTION consult.lock_log() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    LOCK TABLE consult.log_lock IN EXCLUSIVE MODE;
END $$;
