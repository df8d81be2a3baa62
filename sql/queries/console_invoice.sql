-- One invoice's review episodes and every delivery made for it (the console's
-- invoice page: its episodes by their invoice index, their deliveries by the unique
-- key, which leads with episode_id). Recipients in full: only this page shows them.
SELECT n.id, n.episode_id, e.entered_at, e.source, e.taken_at, e.taken_by, e.taken_via,
       n.method, n.recipient, n.rule_name,
       n.kind, n.step, n.status, n.attempts, n.error_message, n.provider_message_id,
       n.transport, n.sent_at, n.digest_size, n.receipt_status, n.receipt_error, n.receipt_at,
       split_part(n.trace_context, '-', 2) AS trace_id
FROM review_episodes e
JOIN notifications n ON n.episode_id = e.id
WHERE e.invoice_id = %(invoice_id)s::uuid
ORDER BY e.entered_at DESC, n.id
