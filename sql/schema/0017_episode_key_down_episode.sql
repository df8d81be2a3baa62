-- Back to 0016, step 2: the index on episode_id, built CONCURRENTLY.
CREATE INDEX CONCURRENTLY IF NOT EXISTS notifications_episode_idx ON notifications (episode_id)
