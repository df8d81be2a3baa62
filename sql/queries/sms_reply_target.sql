-- The delivery a phone's reply code names: an SMS to that phone carrying the code, of
-- an invoice still in review in that same episode. No row: the code names nothing
-- open (an old reply, a typo).
SELECT n.id
FROM notifications n
JOIN review_episodes e ON e.id = n.episode_id
JOIN invoices i ON i.id = n.invoice_id
WHERE n.recipient = %(phone)s AND n.reply_code = %(code)s AND n.method = 'sms'
  AND i.matched_status = 'NEEDS_REVIEW'
  AND NOT EXISTS (SELECT 1 FROM review_episodes newer
                  WHERE newer.invoice_id = n.invoice_id AND newer.entered_at > e.entered_at)
ORDER BY n.id DESC
LIMIT 1
