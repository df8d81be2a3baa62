DROP TABLE receipt_events;
DROP INDEX notifications_receipt_idx;
DROP INDEX notifications_provider_message_idx;
ALTER TABLE notifications
    DROP COLUMN receipt_status, DROP COLUMN receipt_error, DROP COLUMN receipt_at,
    DROP COLUMN transport;
