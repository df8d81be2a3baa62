-- The reply code an SMS delivery carries ("Reply 2 to take it"): the code its episode
-- already has for that phone (a reminder repeats the notice's), else the smallest code
-- (1-99) the phone holds for no open invoice and was not given in the last day, so an
-- old reply does not take a newer invoice. NULL when every code is held. Runs after
-- reply_code_lock.sql in one transaction: two sends to one phone never share a code.
WITH delivery AS (
    SELECT id, episode_id, recipient FROM notifications WHERE id = %(delivery_id)s
), held AS (
    SELECT n.reply_code, n.episode_id, n.invoice_id, n.created_at
    FROM notifications n
    JOIN delivery d ON n.recipient = d.recipient
    WHERE n.reply_code IS NOT NULL AND n.method = 'sms'
), busy AS (
    SELECT h.reply_code FROM held h
    JOIN review_episodes e ON e.id = h.episode_id
    LEFT JOIN invoices i ON i.id = h.invoice_id
    WHERE h.created_at > now() - interval '1 day'
       OR (i.matched_status = 'NEEDS_REVIEW'
           AND NOT EXISTS (SELECT 1 FROM review_episodes newer
                           WHERE newer.invoice_id = h.invoice_id
                             AND newer.entered_at > e.entered_at))
), chosen AS (
    SELECT coalesce(
        (SELECT h.reply_code FROM held h JOIN delivery d ON h.episode_id = d.episode_id
         LIMIT 1),
        (SELECT min(code) FROM generate_series(1, 99) AS code
         WHERE code NOT IN (SELECT reply_code FROM busy))
    ) AS code
)
UPDATE notifications n
SET reply_code = c.code
FROM chosen c
WHERE n.id = %(delivery_id)s
RETURNING n.reply_code
