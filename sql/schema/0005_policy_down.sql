-- Back to one row per (invoice, episode, channel, recipient): reminder rows go.
DROP FUNCTION reactor_due_date(jsonb);
DROP TABLE recipient_windows;
DELETE FROM notifications WHERE step <> 'notice';
ALTER TABLE notifications DROP CONSTRAINT notifications_once;
ALTER TABLE notifications
    ADD CONSTRAINT notifications_once UNIQUE (invoice_id, episode_id, method, recipient);
ALTER TABLE notifications DROP COLUMN step, DROP COLUMN held, DROP COLUMN digest_size;
