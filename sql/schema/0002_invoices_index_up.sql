-- The sweep looks for invoices in review that never got an episode (written with
-- triggers off, or from before the trigger existed). A partial index keeps that
-- cost proportional to the invoices in review, not the whole table. Built
-- CONCURRENTLY (outside a transaction): upstream writes to invoices go on meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS reactor_invoices_in_review_idx
    ON invoices (id) WHERE matched_status = 'NEEDS_REVIEW'
