-- Put the invoices in review that never had an episode (written with triggers off,
-- or from before the trigger existed) into the outbox as one row, unless they are
-- already waiting there: among the next %(limit)s invoices after %(after)s in key
-- order, read through the primary key's index. The sweep walks the table a chunk
-- per pass, so that no index of ours on invoices' status makes every upstream
-- UPDATE of it a non-HOT one (see 0011_hot_updates_up.sql). Run under the sweep's
-- advisory lock (see sweep_lock.sql). Returns how many were adopted, how many
-- invoices were read, and the last one read (where the next chunk starts).
WITH chunk AS (
    SELECT i.id, i.matched_status
    FROM invoices i
    WHERE i.id > %(after)s::uuid
    ORDER BY i.id
    LIMIT %(limit)s
), orphans AS (
    SELECT c.id
    FROM chunk c
    WHERE c.matched_status = 'NEEDS_REVIEW'
      AND NOT EXISTS (SELECT 1 FROM review_episodes e WHERE e.invoice_id = c.id)
      AND c.id NOT IN (SELECT unnest(invoice_ids) FROM review_events)
), adopted AS (
    INSERT INTO review_events (invoice_ids, source)
    SELECT array_agg(id), 'sweep' FROM orphans
    HAVING count(*) > 0
    RETURNING cardinality(invoice_ids) AS adopted
)
SELECT coalesce((SELECT adopted FROM adopted), 0) AS adopted,
       (SELECT count(*) FROM chunk) AS scanned,
       (SELECT id FROM chunk ORDER BY id DESC LIMIT 1) AS last_id
