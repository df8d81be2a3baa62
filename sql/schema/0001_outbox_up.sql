-- invoice-reactor schema, version 0001.
-- The invoices table belongs to the upstream matching service; it is created here
-- only when it does not exist yet (a fresh database), and then marked as ours so
-- that the downgrade knows it may drop it.

DO $$
BEGIN
    IF to_regclass('invoices') IS NULL THEN
        CREATE TABLE invoices (
            id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
            invoice_number  text,
            vendor_name     text,
            total_amount    numeric(12,2),
            currency        char(3),
            matched_status  varchar(20)   NOT NULL,
            created_at      timestamptz   NOT NULL DEFAULT now(),
            updated_at      timestamptz   NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE invoices IS 'created by invoice-reactor';
    END IF;
END
$$;

-- The old Celery notify service kept its own `notifications` table (uuid ids, no
-- episodes). It is set aside as celery_notifications, its indexes (and so its
-- constraints) renamed with a celery_ prefix, so that ours can take the name;
-- revision 0003 copies its history into ours, and the downgrade puts it back.
DO $$
DECLARE
    legacy_index record;
BEGIN
    IF to_regclass('notifications') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_attribute
        WHERE attrelid = to_regclass('notifications') AND attname = 'episode_id'
          AND NOT attisdropped
    ) THEN
        FOR legacy_index IN
            SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = to_regclass('notifications')
        LOOP
            EXECUTE format('ALTER INDEX %I RENAME TO %I',
                           legacy_index.relname, 'celery_' || legacy_index.relname);
        END LOOP;
        ALTER TABLE notifications RENAME TO celery_notifications;
    END IF;
END
$$;

-- The outbox, written by the trigger in the invoice's own transaction: one row per
-- statement, holding every invoice that statement moved into review, so a bulk
-- UPDATE costs one small insert. NOTIFY only says "look here". Rows are deleted
-- when the dispatcher takes them, so the table holds pending work only.
CREATE TABLE review_events (
    id           bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_ids  uuid[]       NOT NULL,
    source       text         NOT NULL DEFAULT 'trigger' CHECK (source IN ('trigger', 'sweep')),
    created_at   timestamptz  NOT NULL DEFAULT clock_timestamp()
);

-- One review episode of one invoice: made by the dispatcher from an outbox row.
-- An invoice that leaves review and comes back gets a new episode.
CREATE TABLE review_episodes (
    id          bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id  uuid         NOT NULL,
    source      text         NOT NULL CHECK (source IN ('trigger', 'sweep')),
    entered_at  timestamptz  NOT NULL,  -- the outbox row's time: when it entered review
    created_at  timestamptz  NOT NULL DEFAULT now()
);
-- "Is there a newer episode?" and "has this invoice ever had an episode?"
CREATE INDEX review_episodes_invoice_idx ON review_episodes (invoice_id, entered_at);

-- One delivery record per (invoice, review episode, channel, recipient).
CREATE TABLE notifications (
    id                   bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id           uuid         NOT NULL,
    episode_id           bigint       NOT NULL REFERENCES review_episodes (id) ON DELETE CASCADE,
    method               text         NOT NULL CHECK (method IN ('email', 'sms')),
    recipient            text         NOT NULL,
    status               text         NOT NULL DEFAULT 'PENDING'
                         CHECK (status IN ('PENDING', 'SENDING', 'SENT', 'FAILED', 'SKIPPED')),
    attempts             integer      NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz  NOT NULL DEFAULT now(),
    lease_expires_at     timestamptz,
    provider_message_id  text,
    error_message        text,
    sent_at              timestamptz,
    created_at           timestamptz  NOT NULL DEFAULT now(),
    updated_at           timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT notifications_once UNIQUE (invoice_id, episode_id, method, recipient)
);
-- The dispatcher's two ways into the table: due retries, and expired leases.
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX notifications_lease_idx ON notifications (lease_expires_at) WHERE status = 'SENDING';
CREATE INDEX notifications_invoice_idx ON notifications (invoice_id);
-- Failures are few but looked at often (status endpoint, `reactor retry`).
CREATE INDEX notifications_failed_idx ON notifications (updated_at) WHERE status = 'FAILED';

-- The invoice fields a message shows, read by name from the whole row, because the
-- upstream table may lack some of them (currency, say): a missing one is NULL.
CREATE FUNCTION reactor_message_fields(
    invoice jsonb,
    OUT invoice_number text, OUT vendor_name text, OUT total_amount text, OUT currency text
) LANGUAGE sql IMMUTABLE AS $$
    SELECT invoice ->> 'invoice_number', invoice ->> 'vendor_name',
           invoice ->> 'total_amount', invoice ->> 'currency'
$$;
