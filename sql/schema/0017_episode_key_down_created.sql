-- Back to 0016, step 3: the btree on created_at, built CONCURRENTLY.
CREATE INDEX CONCURRENTLY IF NOT EXISTS notifications_created_idx ON notifications (created_at)
