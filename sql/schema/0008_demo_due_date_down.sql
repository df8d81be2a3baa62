DO $$
BEGIN
    IF col_description(to_regclass('invoices'),
                       (SELECT attnum FROM pg_attribute
                        WHERE attrelid = to_regclass('invoices') AND attname = 'due_date'
                          AND NOT attisdropped)) = 'added by invoice-reactor' THEN
        ALTER TABLE invoices DROP COLUMN due_date;
    END IF;
END
$$;
