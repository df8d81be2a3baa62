-- Claim deliveries that are due (on channels not paused in this process): retries and
-- reminders whose time has come, and rows whose lease expired because the process
-- sending them died. Before sending, re-check that the
-- invoice is still in review in this same episode (a reminder: that nobody took it; an
-- SMS: that its phone has not said STOP); if not, the row is SKIPPED.
-- A row whose lease expired on its last allowed attempt is FAILED. Returns every
-- claimed row with its new status; only SENDING ones are to be sent.
WITH due_retries AS (
    SELECT id FROM notifications
    WHERE status = 'PENDING' AND next_attempt_at <= now()
      AND method <> ALL (%(paused)s::text[])
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), expired_leases AS (
    SELECT id FROM notifications
    WHERE status = 'SENDING' AND lease_expires_at < now()
      AND method <> ALL (%(paused)s::text[])
    ORDER BY lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id FROM due_retries
    UNION ALL
    SELECT id FROM expired_leases
), checked AS (
    SELECT n.id, s.skip_reason,
           CASE
               WHEN s.skip_reason IS NOT NULL THEN 'SKIPPED'
               WHEN n.status = 'SENDING' AND n.attempts >= %(max_attempts)s THEN 'FAILED'
               ELSE 'SENDING'
           END AS next_status
    FROM due d
    JOIN notifications n ON n.id = d.id
    JOIN review_episodes episode ON episode.id = n.episode_id
    LEFT JOIN invoices i ON i.id = n.invoice_id
    CROSS JOIN LATERAL (
        SELECT CASE
               WHEN i.matched_status IS DISTINCT FROM 'NEEDS_REVIEW'
                   THEN 'invoice left review before dispatch (now '
                        || coalesce(i.matched_status, 'deleted') || ')'
               WHEN EXISTS (SELECT 1 FROM review_episodes newer
                            WHERE newer.invoice_id = n.invoice_id
                              AND newer.entered_at > episode.entered_at)
                   THEN 'superseded by a newer review episode'
               WHEN n.kind = 'reminder' AND episode.taken_at IS NOT NULL
                   THEN 'no reminder: somebody took the invoice'
               WHEN n.method = 'sms'
                    AND EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.phone = n.recipient)
                   THEN 'the phone opted out of SMS (STOP)'
               END AS skip_reason
    ) s
), updated AS (
    UPDATE notifications n
    SET status = c.next_status,
        attempts = n.attempts + CASE WHEN c.next_status = 'SENDING' THEN 1 ELSE 0 END,
        lease_expires_at = CASE WHEN c.next_status = 'SENDING'
                                THEN now() + make_interval(secs => %(lease_seconds)s) END,
        claim_token = CASE WHEN c.next_status = 'SENDING' THEN gen_random_uuid() END,
        error_message = CASE c.next_status
                            WHEN 'SKIPPED' THEN c.skip_reason
                            WHEN 'FAILED' THEN 'lease expired on the last attempt: '
                                               || coalesce(n.error_message, 'no answer recorded')
                            ELSE n.error_message END,
        updated_at = now()
    FROM checked c
    WHERE n.id = c.id
    RETURNING n.id, n.invoice_id, n.kind, n.method, n.recipient, n.status, n.attempts,
              n.episode_id, n.claim_token, n.rule_name
)
SELECT u.id, u.claim_token, u.invoice_id, u.kind, u.method, u.recipient, u.attempts, u.status,
       u.rule_name,
       e.entered_at AS event_created_at, e.traceparent,
       m.invoice_number, m.vendor_name, m.total_amount, m.currency,
       reactor_due_date(to_jsonb(i)) AS due_date
FROM updated u
JOIN review_episodes e ON e.id = u.episode_id
LEFT JOIN invoices i ON i.id = u.invoice_id
CROSS JOIN LATERAL reactor_message_fields(to_jsonb(i)) m
