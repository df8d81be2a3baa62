-- SMS replies and follow-ups (issue 23).
--
-- A single-invoice SMS ends with a short reply code ("Reply 2 to take it"): the code a
-- phone's reply names, unique among that phone's open invoices and not given again to
-- it for a day. The partial index finds a phone's codes (only SMS rows ever have one).
ALTER TABLE notifications ADD COLUMN reply_code smallint;
CREATE INDEX notifications_reply_code_idx ON notifications (recipient, reply_code)
    WHERE reply_code IS NOT NULL;

-- Phones that said STOP (or that Twilio refused with error 21610): no SMS is attempted
-- to them until they say START.
CREATE TABLE sms_opt_outs (
    phone         text         PRIMARY KEY,
    opted_out_at  timestamptz  NOT NULL DEFAULT now(),
    source        text         NOT NULL CHECK (source IN ('reply', 'provider'))
);

-- The others who were told about a taken invoice are told once who took it: the episode
-- records when that was done. The partial index holds only taken episodes still to
-- follow up, so the follow-up round reads a handful of rows.
ALTER TABLE review_episodes ADD COLUMN followed_up_at timestamptz;
CREATE INDEX review_episodes_follow_up_idx ON review_episodes (taken_at)
    WHERE taken_at IS NOT NULL AND followed_up_at IS NULL;
