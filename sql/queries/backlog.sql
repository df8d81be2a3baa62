-- The backlog for probes and metrics; each count is served by a partial index
-- (the outbox holds pending rows only). pending_events counts invoices waiting there.
-- The oldest pending age leaves out rows planned for later (reminders not yet due,
-- rows held for quiet hours or a digest window): they wait on purpose.
SELECT
    (SELECT count(*) FROM notifications WHERE status = 'PENDING') AS pending,
    (SELECT count(*) FROM notifications WHERE status = 'SENDING') AS sending,
    (SELECT count(*) FROM notifications WHERE status = 'FAILED') AS failed,
    (SELECT coalesce(sum(cardinality(invoice_ids)), 0) FROM review_events) AS pending_events,
    extract(epoch FROM now() - (SELECT min(created_at) FROM review_events))
        AS oldest_event_age_seconds,
    extract(epoch FROM now() - (
        SELECT min(created_at) FROM notifications
        WHERE status = 'PENDING'
          AND (next_attempt_at <= now()
               OR (held IS NULL AND NOT (kind = 'reminder' AND attempts = 0)))
    )) AS oldest_pending_age_seconds
