-- Deliveries by channel and status (`reactor status`).
SELECT method, status, count(*) AS count
FROM notifications
GROUP BY method, status
ORDER BY method, status
