-- Back to 0012: nobody takes an invoice.
ALTER TABLE notifications DROP COLUMN IF EXISTS taken_noted_at;
ALTER TABLE review_episodes
    DROP COLUMN IF EXISTS taken_at,
    DROP COLUMN IF EXISTS taken_by,
    DROP COLUMN IF EXISTS taken_via;
