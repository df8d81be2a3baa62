-- Undo 0003. The old service's own table (celery_notifications) was never changed:
-- only the copy of its history goes.
DELETE FROM review_episodes WHERE source = 'legacy';  -- and their notifications (cascade)
ALTER TABLE review_episodes
    DROP CONSTRAINT review_episodes_source_check,
    ADD CONSTRAINT review_episodes_source_check CHECK (source IN ('trigger', 'sweep'));
DROP INDEX IF EXISTS notifications_episode_idx;
DROP INDEX IF EXISTS review_episodes_created_idx;
ALTER TABLE notifications DROP COLUMN IF EXISTS claim_token;
