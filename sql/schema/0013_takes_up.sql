-- Taking an invoice (issue 23): the first person to take a review episode is recorded
-- on it, with when and through which channel; its reminders stop. Nullable columns
-- with no default: adding them rewrites nothing.
ALTER TABLE review_episodes
    ADD COLUMN taken_at timestamptz,
    ADD COLUMN taken_by text,    -- the recipient whose message was used
    ADD COLUMN taken_via text;   -- that message's channel

-- The Slack messages of a taken episode say who took it, once (the corrector).
ALTER TABLE notifications ADD COLUMN taken_noted_at timestamptz;
