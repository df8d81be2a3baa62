-- The upstream's current WAL position and its slot's state (run on the upstream).
SELECT pg_current_wal_lsn()::text AS current_lsn,
       (SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'invoice_reactor')
           AS slot_wal_status,
       EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'invoice_reactor')
           AS slot_exists
