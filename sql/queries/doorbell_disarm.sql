-- Give the wake-up lock back: writers stop sending NOTIFYs.
SELECT pg_advisory_unlock(7355608001);
