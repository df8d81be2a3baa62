-- Whether another session (another reactor) holds the wake-up lock exclusively. An
-- advisory lock on one bigint key shows as classid = high 32 bits, objid = low 32.
SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database
                                                WHERE datname = current_database())
      AND classid = (7355608001 >> 32)::oid AND objid = (7355608001 & 4294967295)::oid
      AND objsubid = 1 AND mode = 'ExclusiveLock' AND granted
      AND pid <> pg_backend_pid()
);
