-- Replace adopted error texts by their masked form (addresses and numbers hidden).
UPDATE notifications n
SET error_message = m.masked
FROM unnest(CAST(:originals AS text[]), CAST(:masked AS text[])) AS m (original, masked),
     review_episodes e
WHERE n.error_message = m.original AND e.id = n.episode_id AND e.source = 'legacy'
