-- One batch of the retention pass: delete the review episodes created before
-- %(cutoff)s, and their delivery records, whose invoice is no longer in review
-- (or gone) and none of whose deliveries is PENDING or SENDING or changed since the
-- cutoff. Episodes are scanned in (created_at, id) order from the key after which
-- the last batch stopped, so each batch is a short statement and the episodes it
-- keeps (invoice still in review) are not scanned again. With dry_run nothing is
-- deleted; the counts are what would be. Run under the sweep's lock.
WITH scanned AS (
    SELECT e.id, e.invoice_id, e.created_at
    FROM review_episodes e
    WHERE e.created_at < %(cutoff)s::timestamptz
      AND (e.created_at, e.id) > (%(after_at)s::timestamptz, %(after_id)s::bigint)
    ORDER BY e.created_at, e.id
    LIMIT %(batch)s
), doomed AS (
    SELECT s.id
    FROM scanned s
    LEFT JOIN invoices i ON i.id = s.invoice_id
    WHERE i.matched_status IS DISTINCT FROM 'NEEDS_REVIEW'
      AND NOT EXISTS (
          SELECT 1 FROM notifications n
          WHERE n.episode_id = s.id
            AND (n.status IN ('PENDING', 'SENDING') OR n.updated_at >= %(cutoff)s::timestamptz)
      )
), gone_notifications AS (
    DELETE FROM notifications n USING doomed d
    WHERE n.episode_id = d.id AND NOT %(dry_run)s
    RETURNING 1
), gone_episodes AS (
    DELETE FROM review_episodes e USING doomed d
    WHERE e.id = d.id AND NOT %(dry_run)s
    RETURNING 1
), last_scanned AS (
    SELECT created_at, id FROM scanned ORDER BY created_at DESC, id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM scanned) AS scanned,
       (SELECT count(*) FROM doomed) AS episodes,
       (SELECT count(*) FROM notifications n JOIN doomed d ON n.episode_id = d.id)
           AS notifications,
       (SELECT count(*) FROM gone_notifications) + (SELECT count(*) FROM gone_episodes)
           AS deleted_rows,
       (SELECT created_at FROM last_scanned) AS last_at,
       (SELECT id FROM last_scanned) AS last_id
