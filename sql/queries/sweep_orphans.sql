-- Put every invoice in review that never had an episode (written with triggers off,
-- or from before the trigger existed) into the outbox as one row, unless it is
-- already waiting there. Served by the partial index on invoices in review. Run
-- under the sweep's advisory lock (see sweep_lock.sql). Returns how many.
INSERT INTO review_events (invoice_ids, source)
SELECT array_agg(i.id), 'sweep'
FROM invoices i
WHERE i.matched_status = 'NEEDS_REVIEW'
  AND NOT EXISTS (SELECT 1 FROM review_episodes e WHERE e.invoice_id = i.id)
  AND i.id NOT IN (SELECT unnest(invoice_ids) FROM review_events)
HAVING count(*) > 0
RETURNING cardinality(invoice_ids) AS adopted
