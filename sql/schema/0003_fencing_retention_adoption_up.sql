-- invoice-reactor schema, version 0003.

-- Fenced outcomes: every claim gets a fresh token, and only the claim holding it
-- may record the row's outcome (record_outcomes.sql, release_claims.sql).
ALTER TABLE notifications ADD COLUMN claim_token uuid;

-- Retention (prune_batch.sql): episodes by age, and their deliveries by episode;
-- the second also serves the ON DELETE CASCADE from review_episodes.
CREATE INDEX review_episodes_created_idx ON review_episodes (created_at, id);
CREATE INDEX notifications_episode_idx ON notifications (episode_id);

-- Episodes adopted from the old Celery notify service's history.
ALTER TABLE review_episodes
    DROP CONSTRAINT review_episodes_source_check,
    ADD CONSTRAINT review_episodes_source_check
        CHECK (source IN ('trigger', 'sweep', 'legacy'));

-- The old service's history (set aside by 0001 as celery_notifications) becomes
-- ours: one 'legacy' episode per invoice it notified, holding its rows as they
-- were (SENT or FAILED). An invoice with any history counts as notified, so an
-- invoice still in review that the old service told about is not told again;
-- one it never told about has no episode, and the sweep adopts it.
DO $$
BEGIN
    IF to_regclass('celery_notifications') IS NOT NULL THEN
        WITH legacy AS (
            SELECT invoice_id::uuid AS invoice_id, lower(method) AS method, recipient,
                   upper(status) AS status, error_message, sent_at,
                   coalesce(sent_at, now()) AS happened_at
            FROM celery_notifications
        ), episodes AS (
            INSERT INTO review_episodes (invoice_id, source, entered_at, created_at)
            SELECT invoice_id, 'legacy', min(happened_at), max(happened_at)
            FROM legacy GROUP BY invoice_id
            RETURNING id, invoice_id
        )
        INSERT INTO notifications
            (invoice_id, episode_id, method, recipient, status, attempts, next_attempt_at,
             error_message, sent_at, created_at, updated_at)
        SELECT l.invoice_id, e.id, l.method, l.recipient, l.status, 1, l.happened_at,
               l.error_message, l.sent_at, l.happened_at, l.happened_at
        FROM legacy l JOIN episodes e ON e.invoice_id = l.invoice_id;
    END IF;
END
$$;
