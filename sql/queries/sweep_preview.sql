-- What a sweep would find, without changing anything.
SELECT
    (SELECT coalesce(sum(cardinality(invoice_ids)), 0) FROM review_events) AS pending_events,
    (SELECT count(*) FROM invoices i
      LEFT JOIN LATERAL (
          SELECT 1 AS seen FROM review_episodes e WHERE e.invoice_id = i.id LIMIT 1
      ) episode ON true
      WHERE i.matched_status = 'NEEDS_REVIEW'
        AND episode.seen IS NULL
        AND i.id NOT IN (SELECT unnest(invoice_ids) FROM review_events)) AS orphan_invoices,
    (SELECT count(*) FROM notifications
      WHERE status = 'PENDING' AND next_attempt_at <= now()) AS due_retries,
    (SELECT count(*) FROM notifications
      WHERE status = 'SENDING' AND lease_expires_at < now()) AS expired_leases
