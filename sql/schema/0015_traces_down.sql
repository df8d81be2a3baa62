-- Back to 0014: no trace context (the migration puts 0011's trigger function back first).
ALTER TABLE notifications DROP COLUMN IF EXISTS trace_context;
ALTER TABLE review_episodes DROP COLUMN IF EXISTS traceparent;
ALTER TABLE review_events DROP COLUMN IF EXISTS traceparent;
