-- Tell every running reactor that deliveries are due now (a bulk's overflow, rows
-- requeued by `reactor retry`), so all replicas share them.
SELECT pg_notify('invoice_review_due', '')
