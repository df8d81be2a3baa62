-- The Slack messages just corrected in place (or that can no longer be): never again.
UPDATE notifications SET corrected_at = now()
WHERE method = 'slack' AND status = 'SENT' AND corrected_at IS NULL
  AND provider_message_id = ANY(%(message_ids)s::text[])
