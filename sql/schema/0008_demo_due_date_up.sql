-- Only the invoices table invoice-reactor created itself (a fresh database, the demo)
-- gets a due_date; an upstream's own table is never altered.
DO $$
BEGIN
    IF obj_description(to_regclass('invoices'), 'pg_class') = 'created by invoice-reactor'
       AND NOT EXISTS (
           SELECT 1 FROM pg_attribute
           WHERE attrelid = to_regclass('invoices') AND attname = 'due_date'
             AND NOT attisdropped
       ) THEN
        ALTER TABLE invoices ADD COLUMN due_date date;
        COMMENT ON COLUMN invoices.due_date IS 'added by invoice-reactor';
    END IF;
END
$$;
