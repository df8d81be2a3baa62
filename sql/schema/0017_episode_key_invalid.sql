-- Which of these indexes did an interrupted CREATE INDEX CONCURRENTLY leave half
-- built (invalid)? They are dropped and built again.
SELECT c.relname
FROM pg_index x
JOIN pg_class c ON c.oid = x.indexrelid
WHERE NOT x.indisvalid
  AND c.relname IN ('notifications_once_by_episode', 'notifications_created_brin',
                    'notifications_once_per_step', 'notifications_episode_idx',
                    'notifications_created_idx')
