-- Transition-only triggers on invoices. Statement-level with transition tables: a
-- statement that moves invoices into review writes one outbox row (the ids of all
-- of them) and sends one NOTIFY, however many rows it touched; a statement that
-- moves none writes nothing and sends no NOTIFY.
--
-- SECURITY DEFINER: the upstream service's role writes invoices but need not be
-- allowed to write our tables. search_path is pinned to the migration's.

CREATE FUNCTION reactor_invoices_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO review_events (invoice_ids)
    SELECT array_agg(n.id) FROM reactor_new_rows n WHERE n.matched_status = 'NEEDS_REVIEW'
    HAVING count(*) > 0;
    IF FOUND THEN
        PERFORM pg_notify('invoice_review', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION reactor_invoices_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO review_events (invoice_ids)
    SELECT array_agg(n.id)
    FROM reactor_new_rows n
    JOIN reactor_old_rows o ON o.id = n.id
    WHERE n.matched_status = 'NEEDS_REVIEW'
      AND o.matched_status IS DISTINCT FROM 'NEEDS_REVIEW'
    HAVING count(*) > 0;
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
