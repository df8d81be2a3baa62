-- The unique key of a delivery, led by its episode (an episode belongs to one
-- invoice, so invoice_id added nothing to it). Episode ids grow, so new entries land
-- on the index's last pages instead of a random page per invoice UUID, and the key
-- also serves the foreign key from notifications to review_episodes. Built
-- CONCURRENTLY, alone (the migration runs this statement on its own).
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS notifications_once_by_episode
    ON notifications (episode_id, step, method, recipient)
