-- Take pending outbox rows (deleting them), give every invoice in them a review
-- episode, and expand each current episode into one delivery per (policy step,
-- channel, recipient) that the notification rules choose for it, all in one statement:
--   * the first %(claim_episodes)s episodes' deliveries are claimed for this process
--     at once (SENDING, under a lease); the rest are left PENDING and due now, for
--     the claim_due path to take in batches (a bulk UPDATE of 10,000 invoices must
--     not put 20,000 rows under one process's lease);
--   * deliveries whose invoice has left review, and SMS to a phone that said STOP,
--     are SKIPPED with the reason;
--   * rows of a channel paused in this process stay PENDING for whoever can send;
--   * reminders (`after`, `before_due`) are PENDING rows due at their moment, claimed
--     then like any due row; of what falls due at once for one recipient (the notice,
--     reminders whose moment has passed) one row is written, the notice if any.
-- An invoice that entered review twice before it was taken gets one episode (the
-- later one); an episode that a newer one already supersedes expands to nothing.
-- Returns the deliveries to send and the SKIPPED ones (to count), or one row of
-- NULLs; taken_events < limit means the outbox is empty.
WITH taken AS (
    DELETE FROM review_events
    WHERE id IN (
        SELECT id FROM review_events ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
    )
    RETURNING id, invoice_ids, source, created_at, traceparent
), entered AS (
    SELECT DISTINCT ON (u.invoice_id) u.invoice_id, t.source, t.created_at AS entered_at,
           t.traceparent
    FROM taken t
    CROSS JOIN LATERAL unnest(t.invoice_ids) AS u (invoice_id)
    ORDER BY u.invoice_id, t.created_at DESC
), episodes AS (
    INSERT INTO review_episodes (invoice_id, source, entered_at, traceparent)
    SELECT invoice_id, source, entered_at, traceparent FROM entered
    ORDER BY entered_at, invoice_id
    RETURNING id, invoice_id, entered_at, traceparent
), current_episodes AS (
    SELECT e.id, e.invoice_id, e.entered_at, e.traceparent,
           row_number() OVER (ORDER BY e.id) AS position
    FROM episodes e
    -- Not superseded: no later episode of the invoice. Written as a max(), one probe
    -- of review_episodes_invoice_idx per episode; a NOT EXISTS lets the planner hash
    -- the whole table while it is small (a third of the statement's time at 1,000 rows).
    WHERE e.entered_at >= coalesce(
        (SELECT max(newer.entered_at) FROM review_episodes newer
         WHERE newer.invoice_id = e.invoice_id),
        '-infinity')
), facts AS (
    -- Each current episode's invoice, as the rules and the messages read it, from
    -- the invoices table's own columns, or through to_jsonb when it lacks some of
    -- them (sql/queries/invoice_fields/).
    SELECT e.id AS episode_id, e.invoice_id, e.entered_at, e.traceparent, e.position,
           i.matched_status,
           f.invoice_number, f.vendor_name, f.total_amount, f.currency,
           f.due_date::timestamp AT TIME ZONE %(timezone)s AS due_at, f.due_date
    FROM current_episodes e
    LEFT JOIN invoices i ON i.id = e.invoice_id
    CROSS JOIN LATERAL (
        /* invoice_fields */
    ) f
), routed AS (
    -- The rules (%(routes)s: one JSON row per rule and recipient, in file order) that
    -- apply to each invoice, with each row's moment; a recipient named by several
    -- rules of one step gets one row, the first rule's. A `before_due` reminder needs
    -- a due date.
    SELECT DISTINCT ON (f.episode_id, r.step, r.method, r.recipient)
           f.episode_id, f.invoice_id, f.position, r.step, r.method, r.recipient,
           r.rule_name, r.rule_position, f.matched_status,
           CASE r.timing
               WHEN 'after' THEN f.entered_at + make_interval(secs => r.offset_seconds)
               WHEN 'before_due' THEN f.due_at - make_interval(secs => r.offset_seconds)
           END AS remind_at
    FROM facts f
    CROSS JOIN LATERAL (
        SELECT CASE WHEN f.total_amount ~ '^\s*[-+]?[0-9]+(\.[0-9]*)?\s*$'
                    THEN f.total_amount::numeric END AS amount
    ) a
    JOIN jsonb_to_recordset(%(routes)s::jsonb) AS r (
        rule_position int, rule_name text, step text, timing text, offset_seconds float8,
        method text, recipient text,
        min_amount numeric, max_amount numeric, currencies text[], vendors text[]
    ) ON (r.min_amount IS NULL OR a.amount >= r.min_amount)
     AND (r.max_amount IS NULL OR a.amount <= r.max_amount)
     AND (r.currencies IS NULL
          OR upper(coalesce(f.currency, %(default_currency)s)) = ANY (r.currencies))
     AND (r.vendors IS NULL
          OR lower(coalesce(f.vendor_name, '') COLLATE reactor_case_fold) COLLATE "C"
             LIKE ANY (r.vendors))
     AND (r.timing <> 'before_due' OR f.due_at IS NOT NULL)
    ORDER BY f.episode_id, r.step, r.method, r.recipient, r.rule_position
), timed AS (
    -- Of the rows due at once for one recipient, the notice (else the first rule's).
    SELECT *, row_number() OVER (
               PARTITION BY episode_id, method, recipient, remind_at IS NULL OR remind_at <= now()
               ORDER BY remind_at IS NOT NULL, rule_position, step
           ) AS rank_now
    FROM routed
), candidates AS MATERIALIZED (
    -- Materialized: the INSERT below reads skip_reason five times, and inlined, each
    -- read would probe sms_opt_outs again.
    SELECT episode_id, invoice_id, step, method, recipient, rule_name,
           CASE WHEN step = 'notice' THEN 'notice' ELSE 'reminder' END AS kind,
           CASE WHEN remind_at > now() THEN remind_at ELSE now() END AS due_at,
           CASE WHEN matched_status IS DISTINCT FROM 'NEEDS_REVIEW'
                THEN 'invoice left review before dispatch (now '
                     || coalesce(matched_status, 'deleted') || ')'
                WHEN method = 'sms'
                     AND EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.phone = timed.recipient)
                THEN 'the phone opted out of SMS (STOP)'
           END AS skip_reason,
           step = 'notice' AND position <= %(claim_episodes)s
               AND method <> ALL (%(paused)s::text[]) AS claim_now
    FROM timed
    WHERE rank_now = 1 OR remind_at > now()
), inserted AS (
    INSERT INTO notifications AS n
        (invoice_id, episode_id, step, kind, method, recipient, rule_name, status, attempts,
         next_attempt_at, lease_expires_at, claim_token, error_message)
    SELECT invoice_id, episode_id, step, kind, method, recipient, rule_name,
           CASE WHEN skip_reason IS NOT NULL THEN 'SKIPPED'
                WHEN claim_now THEN 'SENDING' ELSE 'PENDING' END,
           CASE WHEN skip_reason IS NULL AND claim_now THEN 1 ELSE 0 END,
           due_at,
           CASE WHEN skip_reason IS NULL AND claim_now
                THEN now() + make_interval(secs => %(lease_seconds)s) END,
           CASE WHEN skip_reason IS NULL AND claim_now THEN gen_random_uuid() END,
           skip_reason
    FROM candidates
    ON CONFLICT ON CONSTRAINT notifications_once DO NOTHING
    RETURNING n.id, n.invoice_id, n.episode_id, n.kind, n.method, n.recipient, n.status,
              n.attempts, n.claim_token, n.next_attempt_at, n.rule_name
), deliveries AS (
    SELECT ins.id, ins.claim_token, ins.invoice_id, ins.kind, ins.method, ins.recipient,
           ins.attempts, ins.status, ins.rule_name,
           f.entered_at AS event_created_at, f.traceparent,
           f.invoice_number, f.vendor_name, f.total_amount, f.currency, f.due_date
    FROM inserted ins
    JOIN facts f ON f.episode_id = ins.episode_id
    WHERE ins.status <> 'PENDING'
)
SELECT (SELECT count(*) FROM taken) AS taken_events,
       (SELECT count(*) FROM inserted
         WHERE status = 'PENDING' AND next_attempt_at <= now()) AS left_pending,
       (SELECT min(next_attempt_at) FROM inserted
         WHERE status = 'PENDING' AND next_attempt_at > now()) AS next_reminder_at,
       d.*
FROM (SELECT 1) AS one
LEFT JOIN deliveries d ON true
