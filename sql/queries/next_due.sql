-- When the next retry or lease expiry falls due (NULL when nothing waits).
SELECT least(
    (SELECT min(next_attempt_at) FROM notifications WHERE status = 'PENDING'),
    (SELECT min(lease_expires_at) FROM notifications WHERE status = 'SENDING')
) AS next_due
