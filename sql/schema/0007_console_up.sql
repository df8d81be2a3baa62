-- The console's overview counts the last day's deliveries by when they were made.
CREATE INDEX notifications_created_idx ON notifications (created_at);
