-- Whether the upstream has the reactor's replication slot, usable or not (run on the
-- upstream).
SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'invoice_reactor')
