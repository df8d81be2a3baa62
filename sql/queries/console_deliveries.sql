-- The console's delivery list: newest first, a page at a time (keyset: rows below
-- %(before)s), every filter optional (NULL matches all). Walks the primary key
-- backwards, or, when an invoice is named, its episodes (their invoice index) and their
-- deliveries (the unique key, which leads with episode_id).
SELECT n.id, n.invoice_id, n.method, n.recipient, n.rule_name, n.kind, n.status, n.attempts,
       n.error_message, n.sent_at, n.created_at, n.receipt_status, n.digest_size,
       m.vendor_name, e.taken_at, e.taken_by
FROM notifications n
JOIN review_episodes e ON e.id = n.episode_id
LEFT JOIN invoices i ON i.id = n.invoice_id
CROSS JOIN LATERAL reactor_message_fields(to_jsonb(i)) m
WHERE (%(status)s::text IS NULL OR n.status = %(status)s::text)
  AND (%(method)s::text IS NULL OR n.method = %(method)s::text)
  AND (%(rule)s::text IS NULL OR n.rule_name = %(rule)s::text)
  AND (%(invoice_id)s::uuid IS NULL OR n.episode_id = ANY (ARRAY(
           SELECT x.id FROM review_episodes x WHERE x.invoice_id = %(invoice_id)s::uuid)))
  AND (%(vendor)s::text IS NULL
       OR strpos(lower(coalesce(m.vendor_name, '')), lower(%(vendor)s::text)) > 0)
  AND (%(since)s::timestamptz IS NULL OR n.created_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR n.created_at < %(until)s::timestamptz)
  AND (%(before)s::bigint IS NULL OR n.id < %(before)s::bigint)
  AND (%(taken)s::boolean IS NULL OR (e.taken_at IS NOT NULL) = %(taken)s::boolean)
ORDER BY n.id DESC
LIMIT %(limit)s
