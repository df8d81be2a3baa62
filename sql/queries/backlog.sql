-- The backlog for probes and metrics; each count is served by a partial index.
SELECT
    (SELECT count(*) FROM notifications WHERE status = 'PENDING') AS pending,
    (SELECT count(*) FROM notifications WHERE status = 'SENDING') AS sending,
    (SELECT count(*) FROM notifications WHERE status = 'FAILED') AS failed,
    (SELECT count(*) FROM review_events WHERE processed_at IS NULL) AS pending_events,
    extract(epoch FROM now() - (SELECT min(created_at) FROM review_events
                                WHERE processed_at IS NULL)) AS oldest_event_age_seconds,
    extract(epoch FROM now() - (SELECT min(created_at) FROM notifications
                                WHERE status = 'PENDING')) AS oldest_pending_age_seconds
