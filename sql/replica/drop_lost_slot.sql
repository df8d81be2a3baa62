-- Drop the reactor's slot on the upstream when it is there but lost (run on the
-- upstream, after the subscription that used it is gone). Returns how many.
SELECT count(pg_drop_replication_slot(slot_name))
FROM pg_replication_slots
WHERE slot_name = 'invoice_reactor' AND NOT active
