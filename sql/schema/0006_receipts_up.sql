-- Delivery receipts: what the provider said happened after it accepted a message.
-- receipt_status: the furthest status reported (Twilio: sent, delivered,
-- undelivered, failed; SendGrid: deferred, delivered, bounce, dropped); it never
-- moves backwards. receipt_error: the provider's code or reason, masked.
-- transport: which transport sent the row (sendgrid, smtp, twilio, console), so a
-- failover shows in the record.
ALTER TABLE notifications
    ADD COLUMN receipt_status text,
    ADD COLUMN receipt_error text,
    ADD COLUMN receipt_at timestamptz,
    ADD COLUMN transport text;

-- A Twilio callback names the message by its sid; a digest's rows share one.
CREATE INDEX notifications_provider_message_idx
    ON notifications (provider_message_id) WHERE provider_message_id IS NOT NULL;
-- The last day's receipts, for reactor status and /health/status.
CREATE INDEX notifications_receipt_idx
    ON notifications (receipt_at) WHERE receipt_at IS NOT NULL;

-- SendGrid events already recorded (sg_event_id): a replayed batch changes nothing.
-- Kept for a day, longer than any batch can be replayed (WEBHOOK_MAX_AGE_SECONDS).
CREATE TABLE receipt_events (
    event_id     text         PRIMARY KEY,
    received_at  timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX receipt_events_received_idx ON receipt_events (received_at);
