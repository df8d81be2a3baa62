-- created_at as a BRIN index: rows are appended in created_at order, so a summary per
-- range of pages finds a time window (the console's last day, its since/until
-- filter) and costs an insert nothing until autovacuum summarizes the range.
CREATE INDEX CONCURRENTLY IF NOT EXISTS notifications_created_brin
    ON notifications USING brin (created_at) WITH (autosummarize = on)
