-- Resume a channel an operator paused (the console).
DELETE FROM channel_pauses WHERE method = %(method)s
