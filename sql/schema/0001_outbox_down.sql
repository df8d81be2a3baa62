-- Undo 0001: drop what the upgrade added; drop invoices only if the upgrade created it.
DROP FUNCTION IF EXISTS reactor_message_fields(jsonb);
DROP TABLE IF EXISTS notifications;
DROP TABLE IF EXISTS review_episodes;
DROP TABLE IF EXISTS review_events;
DROP INDEX IF EXISTS reactor_invoices_in_review_idx;

DO $$
BEGIN
    IF to_regclass('invoices') IS NOT NULL
       AND obj_description(to_regclass('invoices'), 'pg_class') = 'created by invoice-reactor' THEN
        DROP TABLE invoices;
    END IF;
END
$$;
