-- One invoice's review episodes and every delivery made for it (the console's
-- invoice page; the invoice index). Recipients in full: only this page shows them.
SELECT n.id, n.episode_id, e.entered_at, e.source, e.taken_at, e.taken_by, e.taken_via,
       n.method, n.recipient, n.rule_name,
       n.kind, n.step, n.status, n.attempts, n.error_message, n.provider_message_id,
       n.transport, n.sent_at, n.digest_size, n.receipt_status, n.receipt_error, n.receipt_at,
       split_part(n.trace_context, '-', 2) AS trace_id
FROM notifications n
JOIN review_episodes e ON e.id = n.episode_id
WHERE n.invoice_id = %(invoice_id)s::uuid
ORDER BY e.entered_at DESC, n.id
