-- FAILED deliveries grouped by channel and error message (the FAILED index), with
-- the newest rows of each group for the console's failures page.
SELECT method, error_message, count(*) AS count, max(updated_at) AS last_seen,
       (array_agg(id ORDER BY id DESC))[1:20] AS ids,
       (array_agg(invoice_id::text ORDER BY id DESC))[1:20] AS invoice_ids
FROM notifications
WHERE status = 'FAILED'
GROUP BY method, error_message
ORDER BY count DESC, last_seen DESC
LIMIT 50
