-- Back to 0016, last step: the unique key swapped back, the BRIN index dropped.
ALTER TABLE notifications
    DROP CONSTRAINT notifications_once,
    ADD CONSTRAINT notifications_once UNIQUE USING INDEX notifications_once_per_step;
DROP INDEX notifications_created_brin;
