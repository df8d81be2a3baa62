"""The delivery pipeline, from the outbox to a fenced outcome.

In data-flow order: listener and doorbell (wake-ups), intake (outbox rows into
deliveries), claims, digests, dispatch, senders, attempts, recorder (fenced outcomes),
sweep and prune; beside them pauses and the replication monitor.
"""
