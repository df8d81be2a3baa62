-- Back to 0015: the index on notifications.invoice_id, built CONCURRENTLY (the
-- migration runs this statement on its own).
CREATE INDEX CONCURRENTLY IF NOT EXISTS notifications_invoice_idx ON notifications (invoice_id)
