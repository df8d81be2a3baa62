-- What the upstream's writers pay, cut again (issue 20).
--
-- 1. No index of ours on invoices' status. Any index whose key or predicate names
--    matched_status makes every UPDATE of it a non-HOT one: a new row version on
--    another page and an entry in every index of invoices, for every transition in
--    and out of review. The partial index on invoices in review served only the
--    sweep's search for orphans, which now walks the table in key order, a chunk
--    per pass (sweep_orphans.sql). Dropped CONCURRENTLY, outside a transaction (the
--    migration runs this statement on its own).
--
-- 2. The trigger function without `SET search_path`. A function with a SET clause
--    saves and restores the setting on every call and recomputes the search path,
--    which cost the upstream's writers more than the function's own work. Every name
--    in the body is written with its schema instead (the migration's schema and
--    pg_catalog), which is just as safe for a SECURITY DEFINER function, and works
--    under logical replication's apply worker, which runs with an empty search_path.

DROP INDEX CONCURRENTLY IF EXISTS reactor_invoices_in_review_idx
