-- Short-lived markers, in the retention pass: digest windows that have closed (a
-- window only matters while open, and it names a recipient) and SendGrid event ids
-- older than a day (a batch that old is refused as stale anyway).
WITH windows AS (
    DELETE FROM recipient_windows WHERE open_until < now() RETURNING 1
), events AS (
    DELETE FROM receipt_events WHERE received_at < now() - interval '1 day' RETURNING 1
)
SELECT (SELECT count(*) FROM windows) AS windows, (SELECT count(*) FROM events) AS events
