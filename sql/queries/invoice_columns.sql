-- Whether the invoices table has every field the messages and rules read as a column
-- of its own (due_date a date), so that the intake reads them directly
-- (invoice_fields/columns.sql) rather than through to_jsonb (invoice_fields/json.sql).
SELECT count(*) = 5 AS direct
FROM pg_attribute a
WHERE a.attrelid = to_regclass('invoices') AND a.attnum > 0 AND NOT a.attisdropped
  AND (a.attname IN ('invoice_number', 'vendor_name', 'total_amount', 'currency')
       OR (a.attname = 'due_date' AND a.atttypid = 'date'::regtype))
