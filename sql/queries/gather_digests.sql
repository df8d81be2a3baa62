-- Digests (DIGEST_WINDOW_SECONDS > 0): the rows this process just claimed, gathered
-- per channel and recipient into messages. For each (channel, recipient):
--   * when its window is closed, this claim opens it (until now + the window) and the
--     message also takes every other row of that recipient that is due now, still in
--     review and in its invoice's current episode (SKIP LOCKED): one digest, every
--     invoice keeping its own row;
--   * when a message opened it within the window (this process or another), the
--     claimed rows go back to PENDING until the window ends (held = 'digest_window'),
--     their attempt given back.
-- A reminder of a business-hours rule (%(working_rules)s) that no claim has checked yet
-- (never held, never tried) is not gathered: it may fall due by the wall clock before its
-- working time has passed, and only its own claim holds it until then (business_hours.py).
-- The window row is locked while it is decided, so replicas agree on who sends. The
-- recipient's due rows are found through the index on due rows: the cost follows
-- the rows due now, not the table.
-- Returns the rows to send: the claimed ones kept, and the ones gathered (with the
-- invoice fields their messages show).
WITH claimed AS (
    SELECT c.id, c.token, n.method, n.recipient
    FROM unnest(%(ids)s::bigint[], %(tokens)s::uuid[]) AS c (id, token)
    JOIN notifications n ON n.id = c.id AND n.status = 'SENDING' AND n.claim_token = c.token
), windows AS (
    INSERT INTO recipient_windows AS w (method, recipient, open_until)
    SELECT DISTINCT method, recipient, now() + make_interval(secs => %(window_seconds)s)
    FROM claimed
    ORDER BY 1, 2  -- one lock order for every process
    ON CONFLICT (method, recipient) DO UPDATE
        SET open_until = CASE WHEN w.open_until <= now() THEN excluded.open_until
                              ELSE w.open_until END
    RETURNING w.method, w.recipient, w.open_until,
              w.open_until = now() + make_interval(secs => %(window_seconds)s) AS opened
), held AS (
    UPDATE notifications n
    SET status = 'PENDING', held = 'digest_window', next_attempt_at = w.open_until,
        attempts = greatest(n.attempts - 1, 0), lease_expires_at = NULL, claim_token = NULL,
        updated_at = now()
    FROM claimed c
    JOIN windows w ON w.method = c.method AND w.recipient = c.recipient AND NOT w.opened
    WHERE n.id = c.id
    RETURNING n.id
), due AS (
    SELECT n.id
    FROM windows w
    JOIN notifications n
      ON n.method = w.method AND n.recipient = w.recipient
     AND n.status = 'PENDING' AND n.next_attempt_at <= now()
    WHERE w.opened
    FOR UPDATE OF n SKIP LOCKED
), gathered AS (
    UPDATE notifications n
    SET status = 'SENDING', attempts = n.attempts + 1, held = NULL,
        lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
        claim_token = gen_random_uuid(), updated_at = now()
    FROM due d, review_episodes e, invoices i
    WHERE n.id = d.id AND e.id = n.episode_id AND i.id = n.invoice_id
      AND i.matched_status = 'NEEDS_REVIEW'
      AND NOT (n.kind = 'reminder' AND e.taken_at IS NOT NULL)  -- claim_due skips it
      AND NOT (n.kind = 'reminder' AND n.rule_name = ANY (%(working_rules)s::text[])
               AND n.held IS NULL AND n.attempts = 0)
      AND n.attempts < %(max_attempts)s
      AND NOT EXISTS (SELECT 1 FROM review_episodes newer
                      WHERE newer.invoice_id = n.invoice_id
                        AND newer.entered_at > e.entered_at)
    RETURNING n.id, n.claim_token, n.invoice_id, n.kind, n.method, n.recipient, n.attempts,
              n.status, n.rule_name, e.entered_at AS event_created_at, e.traceparent,
              to_jsonb(i) AS invoice
)
SELECT c.id, c.token AS claim_token, NULL::uuid AS invoice_id, NULL AS kind, c.method,
       c.recipient, NULL::int AS attempts, 'SENDING' AS status, NULL AS rule_name,
       NULL::timestamptz AS event_created_at, NULL AS traceparent, NULL AS invoice_number, NULL AS vendor_name,
       NULL AS total_amount, NULL AS currency, NULL::date AS due_date, true AS claimed
FROM claimed c
JOIN windows w ON w.method = c.method AND w.recipient = c.recipient AND w.opened
UNION ALL
SELECT g.id, g.claim_token, g.invoice_id, g.kind, g.method, g.recipient, g.attempts, g.status,
       g.rule_name,
       g.event_created_at, g.traceparent, m.invoice_number, m.vendor_name, m.total_amount, m.currency,
       reactor_due_date(g.invoice), false
FROM gathered g
CROSS JOIN LATERAL reactor_message_fields(g.invoice) m
