-- Receipts of the last 24 hours by channel and status (`reactor status`,
-- /health/status); served by the receipt index.
SELECT method, receipt_status, count(*) AS count
FROM notifications
WHERE receipt_at > now() - interval '24 hours'
GROUP BY method, receipt_status
ORDER BY method, receipt_status
