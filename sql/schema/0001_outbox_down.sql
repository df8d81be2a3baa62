-- Undo 0001: drop what the upgrade added; drop invoices only if the upgrade created it;
-- give the old service's notifications table back its name and its index names.
DROP FUNCTION IF EXISTS reactor_message_fields(jsonb);
DROP TABLE IF EXISTS notifications;
DROP TABLE IF EXISTS review_episodes;
DROP TABLE IF EXISTS review_events;
DROP INDEX IF EXISTS reactor_invoices_in_review_idx;  -- made by 0002 (0001 did, once)

DO $$
DECLARE
    legacy_index record;
BEGIN
    IF to_regclass('celery_notifications') IS NOT NULL AND to_regclass('notifications') IS NULL THEN
        ALTER TABLE celery_notifications RENAME TO notifications;
        FOR legacy_index IN
            SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = to_regclass('notifications') AND c.relname LIKE 'celery\_%'
        LOOP
            EXECUTE format('ALTER INDEX %I RENAME TO %I',
                           legacy_index.relname, substr(legacy_index.relname, 8));
        END LOOP;
    END IF;
END
$$;

DO $$
BEGIN
    IF to_regclass('invoices') IS NOT NULL
       AND obj_description(to_regclass('invoices'), 'pg_class') = 'created by invoice-reactor' THEN
        DROP TABLE invoices;
    END IF;
END
$$;
