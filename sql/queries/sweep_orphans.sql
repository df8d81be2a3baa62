-- Give an episode to every invoice in review that never had one: rows written with
-- triggers disabled, or from before the trigger existed. Served by the partial index
-- on invoices in review. Run under the sweep's advisory lock (see sweep_lock.sql).
INSERT INTO review_events (invoice_id, source)
SELECT i.id, 'sweep'
FROM invoices i
WHERE i.matched_status = 'NEEDS_REVIEW'
  AND NOT EXISTS (SELECT 1 FROM review_events e WHERE e.invoice_id = i.id)
RETURNING id
