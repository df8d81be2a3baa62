-- Take the review episode a delivery belongs to, for that delivery's recipient (or for
-- %(taken_by)s when given: the Slack member who pressed the channel's button): the
-- first take wins (the row lock makes a concurrent second one find it taken). Only an
-- open episode can be taken: its invoice still in review and no newer episode since.
-- Returns the invoice, whether the episode is open, whether this call took it, and
-- who has it now.
WITH delivery AS (
    SELECT n.id, n.episode_id, n.invoice_id, n.recipient, n.method
    FROM notifications n
    WHERE n.id = %(delivery_id)s
), state AS (
    SELECT d.*, e.taken_at, e.taken_by, e.taken_via, e.entered_at,
           coalesce(i.matched_status = 'NEEDS_REVIEW', false)
           AND NOT EXISTS (SELECT 1 FROM review_episodes newer
                           WHERE newer.invoice_id = d.invoice_id
                             AND newer.entered_at > e.entered_at) AS open,
           i.invoice_number
    FROM delivery d
    JOIN review_episodes e ON e.id = d.episode_id
    LEFT JOIN invoices i ON i.id = d.invoice_id
), taken AS (
    UPDATE review_episodes e
    SET taken_at = now(), taken_by = coalesce(%(taken_by)s::text, s.recipient),
        taken_via = s.method
    FROM state s
    WHERE %(take)s AND e.id = s.episode_id AND s.open AND e.taken_at IS NULL
    RETURNING e.taken_at, e.taken_by, e.taken_via
)
SELECT s.invoice_id, s.invoice_number, s.recipient, s.open, s.entered_at,
       EXISTS (SELECT 1 FROM taken) AS took,
       coalesce((SELECT taken_by FROM taken), s.taken_by) AS taken_by,
       coalesce((SELECT taken_via FROM taken), s.taken_via) AS taken_via,
       coalesce((SELECT taken_at FROM taken), s.taken_at) AS taken_at
FROM state s
