-- Pause a channel for every reactor (the console); pausing it again keeps the first.
INSERT INTO channel_pauses (method, paused_by) VALUES (%(method)s, %(user)s)
ON CONFLICT (method) DO NOTHING
