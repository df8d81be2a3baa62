-- The channels an operator paused (read by every reactor every few seconds).
SELECT method, paused_by, paused_at FROM channel_pauses ORDER BY method
