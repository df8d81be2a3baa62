-- The most frequent failure messages (`reactor status`): rows FAILED (the FAILED
-- index), and rows the provider accepted but reported as not delivered in the last
-- 24 hours (a hard bounce, an undelivered SMS: the receipt index).
WITH failures AS (
    SELECT method, error_message, updated_at AS seen
    FROM notifications
    WHERE status = 'FAILED'
    UNION ALL
    SELECT method,
           'not delivered (' || receipt_status || coalesce('): ' || receipt_error, ')'),
           receipt_at
    FROM notifications
    WHERE receipt_at > now() - interval '24 hours'
      AND receipt_status IN ('undelivered', 'failed', 'bounce', 'dropped')
)
SELECT method, error_message, count(*) AS count, max(seen) AS last_seen
FROM failures
GROUP BY method, error_message
ORDER BY count DESC, last_seen DESC
LIMIT %(limit)s
