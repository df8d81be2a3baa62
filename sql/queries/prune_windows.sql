-- Digest windows that have closed: a window only matters while it is open, and it
-- names a recipient, so it goes with the retention pass (one row per recipient and
-- channel at most).
DELETE FROM recipient_windows WHERE open_until < now()
