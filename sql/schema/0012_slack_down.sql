-- Back to 0011: email and SMS only (fails while Slack rows remain: delete them first).
DROP INDEX IF EXISTS notifications_slack_open_idx;
ALTER TABLE notifications DROP COLUMN IF EXISTS corrected_at;
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_method_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_method_check
    CHECK (method IN ('email', 'sms'));
ALTER TABLE channel_pauses DROP CONSTRAINT IF EXISTS channel_pauses_method_check;
ALTER TABLE channel_pauses ADD CONSTRAINT channel_pauses_method_check
    CHECK (method IN ('email', 'sms'));
