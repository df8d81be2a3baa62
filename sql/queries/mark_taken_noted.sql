-- The Slack messages just rewritten to say who took their invoice.
UPDATE notifications SET taken_noted_at = now()
WHERE method = 'slack' AND provider_message_id = ANY(%(message_ids)s::text[])
