-- Transition-only triggers on invoices: they write one outbox row per invoice that
-- enters review and send one NOTIFY per statement, however many rows it touched.
-- Statement-level with transition tables, so a bulk UPDATE pays for one INSERT ...
-- SELECT and one NOTIFY, and a write that is not a transition pays for no NOTIFY.
--
-- SECURITY DEFINER: the upstream service's role writes invoices but need not be
-- allowed to write our tables. search_path is pinned to the migration's.

CREATE FUNCTION reactor_invoices_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO review_events (invoice_id)
    SELECT n.id FROM reactor_new_rows n WHERE n.matched_status = 'NEEDS_REVIEW';
    IF FOUND THEN
        PERFORM pg_notify('invoice_review', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION reactor_invoices_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO review_events (invoice_id)
    SELECT n.id
    FROM reactor_new_rows n
    JOIN reactor_old_rows o ON o.id = n.id
    WHERE n.matched_status = 'NEEDS_REVIEW'
      AND o.matched_status IS DISTINCT FROM 'NEEDS_REVIEW';
    IF FOUND THEN
        PERFORM pg_notify('invoice_review', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER reactor_invoices_inserted
    AFTER INSERT ON invoices
    REFERENCING NEW TABLE AS reactor_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reactor_invoices_inserted();

CREATE TRIGGER reactor_invoices_updated
    AFTER UPDATE ON invoices
    REFERENCING OLD TABLE AS reactor_old_rows NEW TABLE AS reactor_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reactor_invoices_updated();
