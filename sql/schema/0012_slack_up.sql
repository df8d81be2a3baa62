-- Slack joins email and SMS as a delivery channel (issue 22). Replacing a check scans
-- the table once, inside this migration's transaction (notifications holds delivery
-- records, pruned by RETENTION_DAYS). 'teams' is allowed already, for the channel to come.
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_method_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_method_check
    CHECK (method IN ('email', 'sms', 'slack', 'teams'));
ALTER TABLE channel_pauses DROP CONSTRAINT IF EXISTS channel_pauses_method_check;
ALTER TABLE channel_pauses ADD CONSTRAINT channel_pauses_method_check
    CHECK (method IN ('email', 'sms', 'slack', 'teams'));
