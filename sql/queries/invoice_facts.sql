-- What the notification rules look at for one invoice (`reactor rules explain`, the
-- console's invoice page), read through the same column mapping as the messages, and
-- its current review episode (NULL: not in review). For explain, also what decides
-- when each message goes, as JSON: that episode's delivery rows, the digest windows
-- still open, the paused channels; and the database's clock. No row: no such invoice.
SELECT m.invoice_number, m.vendor_name, m.total_amount, m.currency, i.matched_status,
       reactor_due_date(to_jsonb(i)) AS due_date, e.entered_at, now() AS checked_at,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'step', n.step, 'kind', n.kind, 'method', n.method,
                   'recipient', n.recipient, 'rule_name', n.rule_name, 'status', n.status,
                   'held', n.held, 'attempts', n.attempts,
                   'next_attempt_at', n.next_attempt_at, 'sent_at', n.sent_at,
                   'error_message', n.error_message, 'digest_size', n.digest_size,
                   'trace_id', split_part(n.trace_context, '-', 2))
               ORDER BY n.id), '[]')
        FROM notifications n WHERE n.episode_id = e.id) AS deliveries,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'method', w.method, 'recipient', w.recipient, 'open_until', w.open_until)),
               '[]')
        FROM recipient_windows w WHERE w.open_until > now()) AS windows,
       (SELECT coalesce(jsonb_object_agg(p.method, p.paused_by), '{}')
        FROM channel_pauses p) AS paused
FROM invoices i
CROSS JOIN LATERAL reactor_message_fields(to_jsonb(i)) m
LEFT JOIN LATERAL (
    SELECT r.id, r.entered_at FROM review_episodes r
    WHERE r.invoice_id = i.id AND i.matched_status = 'NEEDS_REVIEW'
    ORDER BY r.entered_at DESC, r.id DESC
    LIMIT 1
) e ON true
WHERE i.id = %(invoice_id)s
