-- Invoices in review now whose current review episode nobody has taken, oldest first,
-- with how long each has waited (`reactor status`), and how many are taken. Reads the
-- episodes (kept RETENTION_DAYS) once; an operator's query, not the pipeline's.
WITH current_episodes AS (
    SELECT e.invoice_id, e.entered_at, e.taken_at, i.invoice_number
    FROM review_episodes e
    JOIN invoices i ON i.id = e.invoice_id AND i.matched_status = 'NEEDS_REVIEW'
    WHERE NOT EXISTS (SELECT 1 FROM review_episodes newer
                      WHERE newer.invoice_id = e.invoice_id
                        AND newer.entered_at > e.entered_at)
)
SELECT c.invoice_id, c.invoice_number,
       round(extract(epoch FROM now() - c.entered_at)::numeric, 1) AS age_seconds,
       (SELECT count(*) FROM current_episodes WHERE taken_at IS NULL) AS untaken,
       (SELECT count(*) FROM current_episodes WHERE taken_at IS NOT NULL) AS taken
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT * FROM current_episodes WHERE taken_at IS NULL ORDER BY entered_at LIMIT %(limit)s
) c ON true
