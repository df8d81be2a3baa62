-- The notification policy: reminders, quiet hours and digests.
--
-- step: which step of the policy a row is. 'notice' is sent when the invoice enters
-- review; a reminder's step is its timing ('after 86400s', 'before_due 172800s'). A
-- recipient gets at most one row per step and channel in each review episode.
-- held: why a PENDING row waits ('quiet_hours', 'digest_window'; NULL otherwise).
-- digest_size: how many invoices the message that carried this row listed (NULL: it
-- went alone). Constant defaults and no CHECK: no table rewrite, no scan.
ALTER TABLE notifications
    ADD COLUMN step text NOT NULL DEFAULT 'notice',
    ADD COLUMN held text,
    ADD COLUMN digest_size integer;

CREATE UNIQUE INDEX notifications_once_per_step
    ON notifications (invoice_id, episode_id, step, method, recipient);
ALTER TABLE notifications
    DROP CONSTRAINT notifications_once,
    ADD CONSTRAINT notifications_once UNIQUE USING INDEX notifications_once_per_step;

-- Per recipient and channel: until when the digest window opened by the last
-- message stays open. Further rows for that recipient wait until then.
CREATE TABLE recipient_windows (
    method      text         NOT NULL,
    recipient   text         NOT NULL,
    open_until  timestamptz  NOT NULL,
    PRIMARY KEY (method, recipient)
);

-- An invoice's due date, read by name from the whole row like the message fields:
-- NULL when the table has no due_date column or the value is not a date.
CREATE FUNCTION reactor_due_date(invoice jsonb) RETURNS date
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN left(invoice ->> 'due_date', 10)::date;
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
END
$$;
