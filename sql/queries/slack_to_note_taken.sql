-- Slack messages about one invoice whose review episode somebody has taken, not yet
-- saying so: the corrector rewrites them with who has it (once). Only open messages
-- (the partial index of 0012) of invoices still in review; a digest's message, which
-- names several invoices, is left as it is.
SELECT n.provider_message_id AS message_id, n.recipient,
       coalesce(nullif(i.invoice_number, ''), n.invoice_id::text) AS reference,
       e.taken_by, e.taken_via,
       i.id AS invoice_id
FROM notifications n
JOIN review_episodes e ON e.id = n.episode_id
JOIN invoices i ON i.id = n.invoice_id
WHERE n.method = 'slack' AND n.status = 'SENT' AND n.corrected_at IS NULL
  AND n.provider_message_id IS NOT NULL
  AND n.taken_noted_at IS NULL AND e.taken_at IS NOT NULL
  AND i.matched_status = 'NEEDS_REVIEW'
  AND (n.digest_size IS NULL OR n.digest_size <= 1)
LIMIT %(limit)s
