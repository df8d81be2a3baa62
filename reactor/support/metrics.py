"""Prometheus metrics. Names follow the conventions: units in the name, _total on counters."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.001,
    0.002,
    0.003,
    0.005,
    0.008,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
    1800,
)

DELIVERIES = Counter(
    "reactor_deliveries_total",
    "Deliveries that reached a final or retry state, by channel and outcome.",
    ["channel", "outcome"],  # outcome: sent, failed, skipped, retry, held (quiet, business hours)
)
SEND_ATTEMPTS = Counter(
    "reactor_send_attempts_total",
    "Calls to a provider, by channel and failure class (ok when accepted).",
    ["channel", "failure_class"],
)
EVENT_TO_ACCEPTED = Histogram(
    "reactor_event_to_accepted_seconds",
    "Time from the outbox event's commit to the provider's acceptance.",
    ["channel"],
    buckets=_LATENCY_BUCKETS,
)
PROVIDER_CALL = Histogram(
    "reactor_provider_call_duration_seconds",
    "Duration of one provider call.",
    ["channel", "transport"],
    buckets=_LATENCY_BUCKETS,
)
NOTIFIES = Counter(
    "reactor_notifications_received_total",
    "NOTIFY wake-ups received on the listener's channel.",
)
LISTENER_CONNECTED = Gauge(
    "reactor_listener_connected",
    "1 while the listener is connected and listening.",
)
LISTENER_RECONNECTS = Counter(
    "reactor_listener_reconnects_total",
    "Times the listener connected again after losing its connection.",
)
REPLICATION_LAG_SECONDS = Gauge(
    "reactor_replication_lag_seconds",
    "Replica mode: how long ago the upstream was where the subscription has applied to.",
)
REPLICATION_LAG_BYTES = Gauge(
    "reactor_replication_lag_bytes",
    "Replica mode: the upstream's WAL position minus what the subscription has applied.",
)
REPLICATION_APPLYING = Gauge(
    "reactor_replication_applying",
    "Replica mode: 1 while the subscription's apply worker runs.",
)
SWEEP_RUNS = Counter("reactor_sweep_runs_total", "Sweep passes run.")
TAKES = Counter(
    "reactor_takes_total",
    "Invoices taken by somebody from a message, by the message's channel.",
    ["channel"],
)
TIME_TO_TAKE = Histogram(
    "reactor_time_to_take_seconds",
    "From entering review to somebody taking the invoice, by the message's channel.",
    ["channel"],
    buckets=(60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400, 259_200, 604_800),
)
FOLLOW_UPS = Counter(
    "reactor_follow_ups_total",
    "Follow-ups sent to the others once somebody took an invoice, by channel.",
    ["channel"],
)
SMS_REPLIES = Counter(
    "reactor_sms_replies_total",
    "SMS replies received, by what they were: take, taken_already, unknown, stop, start, help.",
    ["kind"],
)
SWEEP_DURATION = Histogram(
    "reactor_sweep_duration_seconds",
    "Duration of one sweep pass.",
    buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5, 30),
)
SWEEP_FOUND = Counter(
    "reactor_sweep_rows_found_total",
    "Rows a sweep found to work on, by kind.",
    ["kind"],  # orphan_invoices
)
BACKLOG = Gauge(
    "reactor_backlog_notifications",
    "Notifications by status, as of the last backlog reading.",
    ["status"],
)
BACKLOG_OLDEST_PENDING = Gauge(
    "reactor_backlog_oldest_pending_age_seconds",
    "Age of the oldest PENDING notification, as of the last backlog reading.",
)
PRUNED = Counter(
    "reactor_pruned_total",
    "Rows deleted by the retention pass (RETENTION_DAYS, `reactor prune`), by kind.",
    ["kind"],  # episodes, notifications
)
WEBHOOK_REJECTED = Counter(
    "reactor_webhook_rejected_total",
    "Provider callbacks refused, by provider and why; nothing was written for them.",
    ["provider", "reason"],  # reason: too_large, malformed, signature, stale
)
RECEIPTS = Counter(
    "reactor_receipts_total",
    "Delivery receipts received, by channel and status (open and click included).",
    ["channel", "status"],
)
READY = Gauge(
    "reactor_ready",
    "1 when /health/ready answers 200, as of its last reading (each probe and each scrape).",
)
CHANNEL_PAUSED = Gauge(
    "reactor_channel_paused",
    "1 while the channel is paused in this process (rate limit, refused credentials, an "
    "operator), read at each scrape.",
    ["channel"],
)
