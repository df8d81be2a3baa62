-- Record delivery receipts. Each names its message by provider message id (Twilio's
-- MessageSid) or by one of its rows (SendGrid's reactor_delivery_id); a digest's
-- rows share one message, so each of them takes the receipt. A receipt never moves
-- a row backwards (ranks as in reactor/receipts.py: the stored status is ranked
-- below with the same table); of several for one row, the furthest wins. A SendGrid
-- event already recorded (its sg_event_id) changes nothing. Returns the rows changed.
WITH fresh AS (
    INSERT INTO receipt_events (event_id)
    SELECT DISTINCT e FROM unnest(%(event_ids)s::text[]) AS e WHERE e IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING event_id
), receipts AS (
    SELECT *
    FROM unnest(%(channels)s::text[], %(statuses)s::text[], %(ranks)s::int[],
                %(message_ids)s::text[], %(delivery_ids)s::bigint[], %(errors)s::text[],
                %(event_ids)s::text[])
         AS r (channel, status, rank, message_id, delivery_id, error, event_id)
    WHERE r.event_id IS NULL OR r.event_id IN (SELECT event_id FROM fresh)
), named AS (
    -- The message each receipt names: Twilio's sid, or the named row's message.
    SELECT r.*, coalesce(r.message_id, d.provider_message_id) AS message
    FROM receipts r
    LEFT JOIN notifications d ON d.id = r.delivery_id
), targets AS (
    SELECT DISTINCT ON (n.id) n.id, t.status, t.rank, t.error
    FROM named t
    JOIN notifications n
      ON n.method = t.channel
     AND (n.provider_message_id = t.message OR n.id = t.delivery_id)
    ORDER BY n.id, t.rank DESC
)
UPDATE notifications n
SET receipt_status = t.status, receipt_error = t.error, receipt_at = now()
FROM targets t
WHERE n.id = t.id
  AND t.rank > CASE
          WHEN n.receipt_status IN ('sent', 'deferred') THEN 1
          WHEN n.receipt_status IS NOT NULL THEN 2
          ELSE 0
      END
RETURNING n.id, n.method, t.status, n.trace_context
