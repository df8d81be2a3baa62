-- Slack joins email and SMS as a delivery channel (issue 22). Replacing a check scans
-- the table once, inside this migration's transaction (notifications holds delivery
-- records, pruned by RETENTION_DAYS). 'teams' is allowed already, for the channel to come.
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_method_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_method_check
    CHECK (method IN ('email', 'sms', 'slack', 'teams'));
ALTER TABLE channel_pauses DROP CONSTRAINT IF EXISTS channel_pauses_method_check;
ALTER TABLE channel_pauses ADD CONSTRAINT channel_pauses_method_check
    CHECK (method IN ('email', 'sms', 'slack', 'teams'));

-- A Slack message is corrected in place once every invoice it told about has left
-- review (chat.update); corrected_at says it was. The partial index holds only the
-- Slack messages still open, which is what the corrector reads every few seconds.
ALTER TABLE notifications ADD COLUMN corrected_at timestamptz;
CREATE INDEX notifications_slack_open_idx ON notifications (provider_message_id)
    WHERE method = 'slack' AND status = 'SENT' AND corrected_at IS NULL;
