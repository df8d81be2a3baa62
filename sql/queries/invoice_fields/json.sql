-- The invoice's fields read by name from the whole row, for a table that lacks some
-- of them (a missing one is NULL; a due date that is not a date is NULL). Read only
-- where needed (%(read_fields)s: the rules have conditions or due dates), or for the
-- episodes claimed at once, so that a bulk's rows left due do not pay for it. Joined
-- LATERAL as `f`, the invoice as `i`, its episode as `e`.
SELECT m.invoice_number, m.vendor_name, m.total_amount, m.currency,
       reactor_due_date(j.invoice) AS due_date
FROM (
    SELECT CASE WHEN %(read_fields)s OR e.position <= %(claim_episodes)s
                THEN to_jsonb(i) END AS invoice
) j
CROSS JOIN LATERAL reactor_message_fields(j.invoice) m
