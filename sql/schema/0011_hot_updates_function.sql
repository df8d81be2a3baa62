-- The trigger function of 0009_row_trigger_up.sql, with every name schema-qualified
-- and no SET clause (see 0011_hot_updates_up.sql). @schema@ is the migration's schema.
DO $migration$
BEGIN
    EXECUTE replace($function$
CREATE OR REPLACE FUNCTION @schema@.reactor_invoice_entered_review() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $body$
BEGIN
    INSERT INTO @schema@.review_events (invoice_ids) VALUES (ARRAY[NEW.id]);
    IF NOT pg_catalog.pg_try_advisory_xact_lock_shared(7355608001) THEN
        PERFORM pg_catalog.pg_notify('invoice_review', '');
    END IF;
    RETURN NULL;
END
$body$
$function$, '@schema@', quote_ident(current_schema()));
END
$migration$
