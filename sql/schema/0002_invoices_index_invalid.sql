-- Is there a half-built index left by an interrupted CREATE INDEX CONCURRENTLY?
SELECT EXISTS (
    SELECT 1 FROM pg_index
    WHERE indexrelid = to_regclass('reactor_invoices_in_review_idx') AND NOT indisvalid
) AS invalid
