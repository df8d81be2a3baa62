-- FAILED deliveries back to PENDING with a fresh set of attempts: `reactor retry` and
-- the console's retry. Every filter is optional (NULL matches all): one row (%(id)s),
-- an invoice, a channel, rows that failed since a moment, and, with %(by_error)s, one
-- error message (NULL included: the console's group of rows with no message). With
-- %(dry_run)s nothing changes: the count is what would be requeued.
WITH chosen AS (
    SELECT id FROM notifications
    WHERE status = 'FAILED'
      AND (%(id)s::bigint IS NULL OR id = %(id)s::bigint)
      AND (%(invoice_id)s::uuid IS NULL OR invoice_id = %(invoice_id)s::uuid)
      AND (%(method)s::text IS NULL OR method = %(method)s::text)
      AND (%(since)s::timestamptz IS NULL OR updated_at >= %(since)s::timestamptz)
      AND (NOT %(by_error)s OR error_message IS NOT DISTINCT FROM %(error)s::text)
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
