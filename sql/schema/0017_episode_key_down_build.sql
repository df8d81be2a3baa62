-- Back to 0016, step 1: the unique key led by invoice_id, built CONCURRENTLY (the
-- migration runs each of these files on its own).
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS notifications_once_per_step
    ON notifications (invoice_id, episode_id, step, method, recipient)
