-- One index fewer on every delivery row (issue 20). notifications_once, the unique
-- key (invoice_id, episode_id, step, method, recipient), leads with invoice_id, so it
-- already serves every lookup of an invoice's deliveries; notifications_invoice_idx
-- duplicated that column. Its entries went to random pages (invoice ids are UUIDs),
-- two per delivery (the insert and the non-HOT update that records the outcome), each
-- a WAL record and, the first time a page is touched after a checkpoint, a full-page
-- image: about 5% of the WAL that a consuming reactor writes per delivery, in direct
-- mode all of it flushed with the upstream's own commits. Dropped CONCURRENTLY,
-- outside a transaction (the migration runs this statement on its own).
DROP INDEX CONCURRENTLY IF EXISTS notifications_invoice_idx
