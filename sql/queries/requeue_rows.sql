-- The console's "retry": FAILED deliveries back to PENDING with a fresh set of
-- attempts, as `reactor retry` does: one row (%(id)s), or a group (channel and error
-- message). With %(dry_run)s nothing changes: the count is what would be requeued.
WITH chosen AS (
    SELECT id FROM notifications
    WHERE status = 'FAILED'
      AND (%(id)s::bigint IS NULL OR id = %(id)s::bigint)
      AND (%(method)s::text IS NULL OR method = %(method)s::text)
      AND (%(id)s::bigint IS NOT NULL OR error_message IS NOT DISTINCT FROM %(error)s::text)
    FOR UPDATE
), requeued AS (
    UPDATE notifications n
    SET status = 'PENDING', attempts = 0, next_attempt_at = now(), lease_expires_at = NULL,
        updated_at = now()
    FROM chosen c
    WHERE n.id = c.id AND NOT %(dry_run)s
    RETURNING 1
)
SELECT (SELECT count(*) FROM chosen) AS count
