-- Wake every running reactor (the same wake-up the trigger sends).
SELECT pg_notify('invoice_review', '')
