-- Slack messages that stopped being true: every invoice one told about has left
-- review (a digest's message waits for all of them). Read through the partial index on
-- the Slack messages still open (0012), so the cost follows those, not the table.
-- Returns each message once: its channel (every row of one message has the same),
-- how many invoices it named, one reference, and the status one of them has now
-- ('deleted' when the invoice is gone).
SELECT n.provider_message_id AS message_id,
       min(n.recipient) AS recipient,
       count(*) AS invoices,
       min(coalesce(nullif(i.invoice_number, ''), n.invoice_id::text)) AS reference,
       min(coalesce(i.matched_status, 'deleted')) AS status
FROM notifications n
LEFT JOIN invoices i ON i.id = n.invoice_id
WHERE n.method = 'slack' AND n.status = 'SENT' AND n.corrected_at IS NULL
  AND n.provider_message_id IS NOT NULL
GROUP BY n.provider_message_id
HAVING bool_and(i.matched_status IS DISTINCT FROM 'NEEDS_REVIEW')
LIMIT %(limit)s
