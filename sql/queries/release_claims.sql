-- Give claimed rows that were never sent back to the pool (shutdown), attempt
-- refunded; only rows still held by the claim that took them (see record_outcomes).
UPDATE notifications n
SET status = 'PENDING', lease_expires_at = NULL, claim_token = NULL, next_attempt_at = now(),
    attempts = greatest(n.attempts - 1, 0), updated_at = now()
FROM unnest(%(ids)s::bigint[], %(tokens)s::uuid[]) AS r (id, token)
WHERE n.id = r.id AND n.status = 'SENDING' AND n.claim_token = r.token
