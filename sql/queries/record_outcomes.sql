-- Record the outcome of a batch of sends. retry_in (seconds) schedules the next
-- attempt of a row going back to PENDING; refund gives back an attempt that never
-- reached the provider (channel paused, quiet hours); held says why a row going back
-- to PENDING waits on purpose (quiet_hours); digest_size is the number of invoices
-- the message listed, on each of a digest's rows; transport is the one that sent it;
-- trace_context the delivery span's traceparent (tracing on), kept beside the message id.
-- Fenced: an outcome is written only by the claim that leased the row (its
-- claim_token); a late outcome from a process whose lease expired, after another
-- process re-claimed the row, changes nothing.
UPDATE notifications n
SET status = o.status,
    provider_message_id = coalesce(o.message_id, n.provider_message_id),
    error_message = o.error,
    sent_at = CASE WHEN o.status = 'SENT' THEN now() ELSE n.sent_at END,
    next_attempt_at = CASE WHEN o.status = 'PENDING'
                           THEN now() + make_interval(secs => o.retry_in)
                           ELSE n.next_attempt_at END,
    attempts = n.attempts - o.refund,
    held = o.held,
    digest_size = o.digest_size,
    transport = coalesce(o.transport, n.transport),
    trace_context = coalesce(o.trace_context, n.trace_context),
    lease_expires_at = NULL,
    claim_token = NULL,
    updated_at = now()
FROM unnest(%(ids)s::bigint[], %(tokens)s::uuid[], %(statuses)s::text[],
            %(message_ids)s::text[], %(errors)s::text[], %(retry_in)s::float8[],
            %(refunds)s::int[], %(held)s::text[], %(digest_sizes)s::int[],
            %(transports)s::text[], %(trace_contexts)s::text[])
     AS o (id, token, status, message_id, error, retry_in, refund, held, digest_size,
           transport, trace_context)
WHERE n.id = o.id AND n.status = 'SENDING' AND n.claim_token = o.token
