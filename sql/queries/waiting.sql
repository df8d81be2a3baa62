-- Deliveries waiting for a later moment, by why (`reactor status`, /health/status):
-- reminders not yet due, rows held for the recipient's quiet hours or digest
-- window, retries in backoff. Served by the partial index on PENDING rows.
SELECT CASE
           WHEN held IS NOT NULL THEN held
           WHEN kind = 'reminder' AND attempts = 0 THEN 'reminder'
           ELSE 'retry'
       END AS reason,
       count(*) AS count, min(next_attempt_at) AS next_at, max(next_attempt_at) AS last_at
FROM notifications
WHERE status = 'PENDING' AND next_attempt_at > now()
GROUP BY 1
ORDER BY 1
