-- Drop one half-built index (named by 0017_episode_key_invalid.sql).
DROP INDEX CONCURRENTLY IF EXISTS {name}
