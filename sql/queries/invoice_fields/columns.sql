-- The invoice's fields read from its own columns: the table has every one of them
-- (invoice_columns.sql), due_date a date. Joined LATERAL as `f`, the invoice as `i`.
SELECT i.invoice_number::text AS invoice_number, i.vendor_name::text AS vendor_name,
       i.total_amount::text AS total_amount, i.currency::text AS currency,
       i.due_date::date AS due_date
