-- `reactor retry`: FAILED deliveries back to PENDING with a fresh set of attempts.
-- Every filter is optional (NULL matches all).
WITH requeued AS (
    UPDATE notifications
    SET status = 'PENDING', attempts = 0, next_attempt_at = now(),
        lease_expires_at = NULL, updated_at = now()
    WHERE status = 'FAILED'
      AND (%(invoice_id)s::uuid IS NULL OR invoice_id = %(invoice_id)s::uuid)
      AND (%(method)s::text IS NULL OR method = %(method)s::text)
      AND (%(since)s::timestamptz IS NULL OR updated_at >= %(since)s::timestamptz)
    RETURNING 1
)
SELECT count(*) AS requeued FROM requeued
