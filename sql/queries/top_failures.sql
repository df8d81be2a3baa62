-- The most frequent failure messages (`reactor status`); served by the FAILED index.
SELECT method, error_message, count(*) AS count, max(updated_at) AS last_seen
FROM notifications
WHERE status = 'FAILED'
GROUP BY method, error_message
ORDER BY count DESC, last_seen DESC
LIMIT %(limit)s
