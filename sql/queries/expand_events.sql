-- Claim a batch of unprocessed outbox events and expand each into one delivery per
-- (channel, recipient), all in one statement. Deliveries whose invoice is still in
-- review are claimed for this process at once (SENDING, under a lease); the others
-- are SKIPPED with the reason. Rows of a channel paused in this process (rate limit,
-- refused credentials) are left PENDING for whoever can send them. An older episode of an invoice that has re-entered
-- review is superseded by the newer one and expands to nothing.
-- Returns the new rows (SENDING to send, SKIPPED to count), or one row of NULLs;
-- claimed_events = 0 means the outbox is drained.
WITH claimed AS (
    SELECT id, invoice_id, created_at
    FROM review_events
    WHERE processed_at IS NULL
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), processed AS (
    UPDATE review_events e
    SET processed_at = now()
    FROM claimed c
    WHERE e.id = c.id
), current_episodes AS (
    SELECT c.id, c.invoice_id
    FROM claimed c
    WHERE NOT EXISTS (
        SELECT 1 FROM review_events newer
        WHERE newer.invoice_id = c.invoice_id AND newer.id > c.id
    )
), candidates AS (
    SELECT e.id AS episode_id, e.invoice_id, r.method, r.recipient,
           coalesce(i.matched_status = 'NEEDS_REVIEW', false) AS in_review,
           r.method <> ALL (%(paused)s::text[]) AS channel_open,
           coalesce(i.matched_status, 'deleted') AS invoice_status
    FROM current_episodes e
    LEFT JOIN invoices i ON i.id = e.invoice_id
    CROSS JOIN unnest(%(methods)s::text[], %(recipients)s::text[]) AS r (method, recipient)
), inserted AS (
    INSERT INTO notifications AS n
        (invoice_id, episode_id, method, recipient, status, attempts, lease_expires_at, error_message)
    SELECT invoice_id, episode_id, method, recipient,
           CASE WHEN NOT in_review THEN 'SKIPPED' WHEN channel_open THEN 'SENDING' ELSE 'PENDING' END,
           CASE WHEN in_review AND channel_open THEN 1 ELSE 0 END,
           CASE WHEN in_review AND channel_open
                THEN now() + make_interval(secs => %(lease_seconds)s) END,
           CASE WHEN NOT in_review
                THEN 'invoice left review before dispatch (now ' || invoice_status || ')' END
    FROM candidates
    ON CONFLICT ON CONSTRAINT notifications_once DO NOTHING
    RETURNING n.id, n.invoice_id, n.episode_id, n.method, n.recipient, n.status, n.attempts
), deliveries AS (
    SELECT ins.id, ins.invoice_id, ins.method, ins.recipient, ins.attempts, ins.status,
           c.created_at AS event_created_at,
           j.invoice ->> 'invoice_number' AS invoice_number,
           j.invoice ->> 'vendor_name' AS vendor_name,
           j.invoice ->> 'total_amount' AS total_amount,
           j.invoice ->> 'currency' AS currency
    FROM inserted ins
    JOIN claimed c ON c.id = ins.episode_id
    LEFT JOIN invoices i ON i.id = ins.invoice_id
    CROSS JOIN LATERAL (SELECT to_jsonb(i) AS invoice) j
)
SELECT (SELECT count(*) FROM claimed) AS claimed_events, d.*
FROM (SELECT 1) AS one
LEFT JOIN deliveries d ON true
