-- Taken review episodes whose others were not told yet who took it: a few at a time,
-- marked done as they are taken (SKIP LOCKED: replicas share them, and a follow-up is
-- tried once, never sent twice). Returns one row per message sent about the episode by
-- email, SMS or Teams to somebody other than the taker (Slack's messages are rewritten
-- in place instead), with the invoice's fields; nothing for an invoice that has left
-- review since, or for a phone that said STOP.
WITH claimed AS (
    UPDATE review_episodes e
    SET followed_up_at = now()
    WHERE e.id IN (
        SELECT id FROM review_episodes
        WHERE taken_at IS NOT NULL AND followed_up_at IS NULL
        ORDER BY taken_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING e.id, e.invoice_id, e.taken_by
)
SELECT c.id AS episode_id, c.invoice_id, c.taken_by, n.method, n.recipient, n.rule_name,
       m.invoice_number, m.vendor_name, m.total_amount, m.currency
FROM claimed c
JOIN invoices i ON i.id = c.invoice_id AND i.matched_status = 'NEEDS_REVIEW'
JOIN notifications n ON n.invoice_id = c.invoice_id AND n.episode_id = c.id
CROSS JOIN LATERAL reactor_message_fields(to_jsonb(i)) m
WHERE n.status = 'SENT' AND n.method IN ('email', 'sms', 'teams')
  AND n.recipient <> c.taken_by
  AND NOT (n.method = 'sms'
           AND EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.phone = n.recipient))
ORDER BY c.id, n.id
