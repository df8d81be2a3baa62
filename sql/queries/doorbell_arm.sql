-- Take the wake-up lock (the trigger's key): waits for writers that hold it shared,
-- at most the session's lock_timeout (reactor/doorbell.py).
SELECT pg_advisory_lock(7355608001);
