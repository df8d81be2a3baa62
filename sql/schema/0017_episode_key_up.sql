-- Two btree entries fewer on each delivery row version (issue 20): the unique key
-- notifications_once now leads with episode_id (built beforehand as
-- notifications_once_by_episode, renamed by the swap), which makes
-- notifications_episode_idx redundant; created_at is served by a BRIN index. Each
-- btree entry was a WAL record per row version (the insert and the non-HOT update that
-- records the outcome), the UUID-led key's often with a full-page image. One short
-- ACCESS EXCLUSIVE lock: the swap and the drops need no scan.
ALTER TABLE notifications
    DROP CONSTRAINT notifications_once,
    ADD CONSTRAINT notifications_once UNIQUE USING INDEX notifications_once_by_episode;
DROP INDEX notifications_episode_idx;
DROP INDEX notifications_created_idx;
