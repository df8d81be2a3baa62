-- Whether the upstream has the reactor's publication (run on the upstream).
SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'invoice_reactor')
