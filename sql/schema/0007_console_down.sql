DROP TABLE channel_pauses;
DROP INDEX notifications_created_idx;
