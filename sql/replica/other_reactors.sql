-- Reactor processes connected to this database, other than commands (run on the
-- reactor's database). Re-subscribing empties the copy of invoices, which a running
-- reactor must not read meanwhile.
SELECT count(*)
FROM pg_stat_activity
WHERE datname = current_database()
  AND application_name LIKE 'invoice-reactor%'
  AND application_name <> 'invoice-reactor command'
  AND pid <> pg_backend_pid()
