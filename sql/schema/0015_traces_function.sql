-- The trigger function of 0011_hot_updates_function.sql, keeping the transaction's
-- `invoice_reactor.traceparent` (if the upstream set one) with the outbox row. Reading a
-- setting that is not set costs a lookup, no error (missing_ok); NULLIF is syntax, not a
-- function that search_path could redirect. @schema@ is the migration's schema.
DO $migration$
BEGIN
    EXECUTE replace($function$
CREATE OR REPLACE FUNCTION @schema@.reactor_invoice_entered_review() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $body$
BEGIN
    INSERT INTO @schema@.review_events (invoice_ids, traceparent)
    VALUES (ARRAY[NEW.id], pg_catalog.left(NULLIF(
        pg_catalog.current_setting('invoice_reactor.traceparent', true), ''), 64));
    IF NOT pg_catalog.pg_try_advisory_xact_lock_shared(7355608001) THEN
        PERFORM pg_catalog.pg_notify('invoice_review', '');
    END IF;
    RETURN NULL;
END
$body$
$function$, '@schema@', quote_ident(current_schema()));
END
$migration$
