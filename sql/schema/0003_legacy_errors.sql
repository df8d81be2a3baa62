-- The error texts of the history adopted from the old notify service (to mask them).
SELECT DISTINCT n.error_message
FROM notifications n JOIN review_episodes e ON e.id = n.episode_id
WHERE e.source = 'legacy' AND n.error_message IS NOT NULL
