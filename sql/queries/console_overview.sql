-- The console's overview: deliveries made in the last 24 hours by channel and
-- status (the created_at index).
SELECT method, status, count(*) AS count
FROM notifications
WHERE created_at > now() - interval '24 hours'
GROUP BY method, status
ORDER BY method, status
