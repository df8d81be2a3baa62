-- Back to 0013: no SMS replies, opt-outs or follow-ups.
DROP INDEX IF EXISTS review_episodes_follow_up_idx;
ALTER TABLE review_episodes DROP COLUMN IF EXISTS followed_up_at;
DROP TABLE IF EXISTS sms_opt_outs;
DROP INDEX IF EXISTS notifications_reply_code_idx;
ALTER TABLE notifications DROP COLUMN IF EXISTS reply_code;
