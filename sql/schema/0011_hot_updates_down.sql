-- Back to 0010: the trigger function with its SET clause, and the partial index
-- (built CONCURRENTLY: the migration runs the index statement on its own).
CREATE OR REPLACE FUNCTION reactor_invoice_entered_review() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO review_events (invoice_ids) VALUES (ARRAY[NEW.id]);
    IF NOT pg_try_advisory_xact_lock_shared(7355608001) THEN
        PERFORM pg_notify('invoice_review', '');
    END IF;
    RETURN NULL;
END
$$
