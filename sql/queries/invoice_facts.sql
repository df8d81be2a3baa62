-- What the notification rules look at for one invoice (`reactor rules explain`),
-- read through the same column mapping as the messages; no row: no such invoice.
SELECT m.invoice_number, m.vendor_name, m.total_amount, m.currency, i.matched_status
FROM invoices i
CROSS JOIN LATERAL reactor_message_fields(to_jsonb(i)) m
WHERE i.id = %(invoice_id)s
