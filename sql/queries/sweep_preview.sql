-- What a sweep would find, without changing anything. The orphans are counted over
-- the whole table in one read (an operator's command, not the periodic sweep).
SELECT
    (SELECT coalesce(sum(cardinality(invoice_ids)), 0) FROM review_events) AS pending_events,
    (SELECT count(*) FROM invoices i
      WHERE i.matched_status = 'NEEDS_REVIEW'
        AND NOT EXISTS (SELECT 1 FROM review_episodes e WHERE e.invoice_id = i.id)
        AND i.id NOT IN (SELECT unnest(invoice_ids) FROM review_events)) AS orphan_invoices,
    (SELECT count(*) FROM notifications
      WHERE status = 'PENDING' AND next_attempt_at <= now()) AS due_retries,
    (SELECT count(*) FROM notifications
      WHERE status = 'SENDING' AND lease_expires_at < now()) AS expired_leases
