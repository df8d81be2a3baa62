-- The console's overview counts the last day's deliveries by when they were made.
CREATE INDEX notifications_created_idx ON notifications (created_at);

-- Channels an operator paused from the console: every reactor reads this table every
-- few seconds and sends nothing on a channel named here until it is resumed.
CREATE TABLE channel_pauses (
    method      text         PRIMARY KEY CHECK (method IN ('email', 'sms')),
    paused_by   text         NOT NULL,
    paused_at   timestamptz  NOT NULL DEFAULT now()
);
