-- The migration session's bound on waiting for a lock (milliseconds).
SELECT set_config('lock_timeout', %(ms)s::text || 'ms', false)
