-- The subscription's state, for the probes and `reactor status` (run on the reactor's
-- database): enabled, whether its apply worker runs, how far it has received and
-- applied, and how long since the upstream last said anything.
SELECT s.subenabled AS enabled,
       w.pid IS NOT NULL AS applying,
       w.received_lsn::text AS received_lsn,
       w.latest_end_lsn::text AS applied_lsn,
       extract(epoch FROM now() - w.last_msg_receipt_time) AS silent_seconds,
       (SELECT count(*) FROM pg_subscription_rel r
        WHERE r.srsubid = s.oid AND r.srsubstate <> 'r') AS tables_syncing
FROM pg_subscription s
LEFT JOIN pg_stat_subscription w ON w.subid = s.oid AND w.relid IS NULL
WHERE s.subname = 'invoice_reactor' AND s.subdbid = (SELECT oid FROM pg_database
                                                     WHERE datname = current_database())
