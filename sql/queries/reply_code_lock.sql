-- Held until the transaction ends: one phone's reply codes are chosen one at a time.
SELECT pg_advisory_xact_lock(hashtextextended('invoice-reactor reply code ' || %(phone)s, 0))
