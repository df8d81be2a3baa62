-- When the next retry or lease expiry this process may claim falls due (NULL when
-- nothing waits): rows of a channel paused in this process are not counted.
SELECT least(
    (SELECT min(next_attempt_at) FROM notifications
      WHERE status = 'PENDING' AND method <> ALL (%(paused)s::text[])),
    (SELECT min(lease_expires_at) FROM notifications
      WHERE status = 'SENDING' AND method <> ALL (%(paused)s::text[]))
) AS next_due
