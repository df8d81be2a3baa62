-- What a sweep would find, without changing anything.
SELECT
    (SELECT count(*) FROM review_events WHERE processed_at IS NULL) AS pending_events,
    (SELECT count(*) FROM invoices i
      WHERE i.matched_status = 'NEEDS_REVIEW'
        AND NOT EXISTS (SELECT 1 FROM review_events e WHERE e.invoice_id = i.id)) AS orphan_invoices,
    (SELECT count(*) FROM notifications
      WHERE status = 'PENDING' AND next_attempt_at <= now()) AS due_retries,
    (SELECT count(*) FROM notifications
      WHERE status = 'SENDING' AND lease_expires_at < now()) AS expired_leases
