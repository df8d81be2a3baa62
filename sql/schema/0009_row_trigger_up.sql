-- A lighter trigger on the upstream's write path (issue 20).
--
-- Row-level, with the transition test in the trigger's WHEN clause: PostgreSQL
-- evaluates it in C as the row is written, so an UPDATE that moves no invoice into
-- review queues nothing and calls nothing (the statement-level trigger it replaces
-- captured every updated row into transition tables, for every UPDATE of invoices).
-- An invoice entering review writes one outbox row holding its id.
--
-- The NOTIFY is sent only when a reactor waits for one. A NOTIFY takes a cluster-wide
-- lock that is held through the commit's WAL flush, so notifying commits queue
-- behind each other. An idle reactor holds the wake-up lock (a session advisory
-- lock, key 7_355_608_001, in exclusive mode) while it sleeps on LISTEN; a busy
-- one, or none at all, does not, and will read the outbox on its own. A writer that
-- cannot take the lock in shared mode (a reactor holds it, or waits for it) sends
-- the NOTIFY; one that can holds it until it commits, so that a reactor taking the
-- lock to go to sleep waits for that commit and then reads the outbox once more:
-- no row is left behind without a wake-up.
--
-- SECURITY DEFINER: the upstream service's role writes invoices but need not be
-- allowed to write our tables. search_path is pinned to the migration's (logical
-- replication's apply worker runs triggers with an empty one).

DROP TRIGGER IF EXISTS reactor_invoices_inserted ON invoices;
DROP TRIGGER IF EXISTS reactor_invoices_updated ON invoices;
DROP FUNCTION IF EXISTS reactor_invoices_inserted();
DROP FUNCTION IF EXISTS reactor_invoices_updated();

CREATE FUNCTION reactor_invoice_entered_review() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO review_events (invoice_ids) VALUES (ARRAY[NEW.id]);
    IF NOT pg_try_advisory_xact_lock_shared(7355608001) THEN
        PERFORM pg_notify('invoice_review', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER reactor_invoices_inserted
    AFTER INSERT ON invoices
    FOR EACH ROW WHEN (NEW.matched_status = 'NEEDS_REVIEW')
    EXECUTE FUNCTION reactor_invoice_entered_review();

CREATE TRIGGER reactor_invoices_updated
    AFTER UPDATE ON invoices
    FOR EACH ROW WHEN (NEW.matched_status = 'NEEDS_REVIEW'
                       AND OLD.matched_status IS DISTINCT FROM 'NEEDS_REVIEW')
    EXECUTE FUNCTION reactor_invoice_entered_review();
