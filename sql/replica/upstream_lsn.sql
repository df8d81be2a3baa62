-- The upstream's current WAL position and whether its slot can still stream (run on
-- the upstream): a missing slot (a failover) or one past max_slot_wal_keep_size
-- ('lost') cannot.
SELECT pg_current_wal_lsn()::text AS current_lsn,
       EXISTS (SELECT 1 FROM pg_replication_slots
               WHERE slot_name = 'invoice_reactor' AND wal_status IS DISTINCT FROM 'lost')
           AS slot_usable
