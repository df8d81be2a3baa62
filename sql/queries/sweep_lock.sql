-- One sweep at a time across all replicas (held until the transaction ends).
SELECT pg_try_advisory_xact_lock(hashtext('invoice-reactor:sweep')) AS acquired
