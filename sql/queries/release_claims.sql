-- Give claimed rows that were never sent back to the pool (shutdown), attempt refunded.
UPDATE notifications
SET status = 'PENDING', lease_expires_at = NULL, next_attempt_at = now(),
    attempts = greatest(attempts - 1, 0), updated_at = now()
WHERE id = ANY(%(ids)s::bigint[]) AND status = 'SENDING'
