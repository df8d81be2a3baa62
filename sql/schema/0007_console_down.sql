DROP INDEX notifications_created_idx;
