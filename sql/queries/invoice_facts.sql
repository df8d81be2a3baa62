-- What the notification rules look at for one invoice (`reactor rules explain`),
-- read through the same column mapping as the messages, and when its current review
-- episode began (NULL: not in review); no row: no such invoice.
SELECT m.invoice_number, m.vendor_name, m.total_amount, m.currency, i.matched_status,
       reactor_due_date(to_jsonb(i)) AS due_date,
       CASE WHEN i.matched_status = 'NEEDS_REVIEW' THEN
           (SELECT max(e.entered_at) FROM review_episodes e WHERE e.invoice_id = i.id)
       END AS entered_at
FROM invoices i
CROSS JOIN LATERAL reactor_message_fields(to_jsonb(i)) m
WHERE i.id = %(invoice_id)s
