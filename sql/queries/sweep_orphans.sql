-- Put every invoice in review that never had an episode (written with triggers off,
-- or from before the trigger existed) into the outbox as one row, unless it is
-- already waiting there. One index probe per invoice in review (the partial index
-- on them, then the episodes index), so the cost follows the invoices in review,
-- not the table or the episode history. Run under the sweep's advisory lock (see
-- sweep_lock.sql). Returns how many.
INSERT INTO review_events (invoice_ids, source)
SELECT array_agg(i.id), 'sweep'
FROM invoices i
LEFT JOIN LATERAL (
    SELECT 1 AS seen FROM review_episodes e WHERE e.invoice_id = i.id LIMIT 1
) episode ON true
WHERE i.matched_status = 'NEEDS_REVIEW'
  AND episode.seen IS NULL
  AND i.id NOT IN (SELECT unnest(invoice_ids) FROM review_events)
HAVING count(*) > 0
RETURNING cardinality(invoice_ids) AS adopted
