-- Traces (issue 25). The upstream's transaction may say which trace moved an invoice
-- into review (`SET LOCAL invoice_reactor.traceparent = '00-…'`, W3C trace context):
-- the trigger keeps it with the outbox row, the intake with the review episode, and
-- each delivery's spans join that trace. A delivery records its own span's context
-- beside the provider's message id, so that a receipt can link to it. Nullable
-- columns without defaults: adding them rewrites nothing.
ALTER TABLE review_events ADD COLUMN traceparent text;
ALTER TABLE review_episodes ADD COLUMN traceparent text;
ALTER TABLE notifications ADD COLUMN trace_context text;
