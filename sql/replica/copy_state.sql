-- The initial copy's state of the reactor's copy of invoices ('r': ready; run on the
-- reactor's database), NULL without a subscription.
SELECT r.srsubstate::text
FROM pg_subscription_rel r
JOIN pg_subscription s ON s.oid = r.srsubid
WHERE s.subname = 'invoice_reactor' AND r.srrelid = 'invoices'::regclass
