-- The backlog for probes and metrics; each count is served by a partial index
-- (the outbox holds pending rows only). pending_events counts invoices waiting there.
SELECT
    (SELECT count(*) FROM notifications WHERE status = 'PENDING') AS pending,
    (SELECT count(*) FROM notifications WHERE status = 'SENDING') AS sending,
    (SELECT count(*) FROM notifications WHERE status = 'FAILED') AS failed,
    (SELECT coalesce(sum(cardinality(invoice_ids)), 0) FROM review_events) AS pending_events,
    extract(epoch FROM now() - (SELECT min(created_at) FROM review_events))
        AS oldest_event_age_seconds,
    extract(epoch FROM now() - (SELECT min(created_at) FROM notifications
                                WHERE status = 'PENDING')) AS oldest_pending_age_seconds
