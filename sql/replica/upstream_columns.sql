-- The upstream invoices columns the reactor reads, as the upstream defines them (run
-- on the upstream): name, type, NOT NULL. The reactor's copy is made from these.
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a
WHERE a.attrelid = 'invoices'::regclass
  AND a.attnum > 0 AND NOT a.attisdropped
  AND a.attname = ANY(%(wanted)s)
ORDER BY a.attnum
