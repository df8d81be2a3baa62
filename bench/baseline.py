"""Benchmark 6: the old polling design, measured in the same run.

One reactor with the listener off (`LISTENER_ENABLED=false`): only the periodic
sweep (REVIEW_NOTIFICATION_INTERVAL=5, its shortest) and the dispatcher's own idle
re-check move work. The same workloads as benchmarks 1 and 2: 1,000 single
transitions one at a time (committed back to back, not waiting for the
notifications: a poller would never finish otherwise), then 10,000 invoices moved
into review by one UPDATE; then wait until the next poll has sent everything.
Latency per transition = the provider receiving its request - its COMMIT;
throughput = 20,000 / (the last bulk delivery - the bulk COMMIT). Both are compared
with the listener design's figures from benchmarks 1 and 2 of this run.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import (
    Context,
    connect,
    invoice_ids,
    invoice_of,
    load_invoices,
    print_table,
    reactor_env,
    reactors,
    say,
    summary_ms,
)

SWEEP_MINUTES = 5  # the shortest REVIEW_NOTIFICATION_INTERVAL allowed


def run(ctx: Context) -> dict[str, Any]:
    """Benchmark 6."""
    singles = ctx.options.size(1_000, 100)
    bulk = ctx.options.size(10_000, 1_000)
    concurrency = ctx.options.concurrency[0]
    url = ctx.postgres.fresh_database("baseline")
    ctx.providers.reset()
    ctx.providers.set_delay(0)
    with connect(url, autocommit=True) as conn:
        load_invoices(conn, singles, "MATCHED")
    single_ids = invoice_ids(url, "MATCHED", singles)
    with connect(url, autocommit=True) as conn:
        load_invoices(conn, bulk, "MATCHED", offset=singles)
        conn.execute("VACUUM ANALYZE invoices")
    env = reactor_env(
        url,
        ctx.providers,
        concurrency,
        LISTENER_ENABLED="false",
        REVIEW_NOTIFICATION_INTERVAL=str(SWEEP_MINUTES),
    )
    expected = 2 * (singles + bulk)
    say(
        f"baseline: listener off, sweep every {SWEEP_MINUTES} min; {singles} single "
        f"transitions then one UPDATE of {bulk:,}; waiting for the next poll"
    )
    with reactors(env, 1, ctx.log_dir, "baseline"):
        ready = time.time()
        committed: dict[str, float] = {}
        with connect(url) as conn:
            for invoice_id in single_ids:
                conn.execute(
                    "UPDATE invoices SET matched_status = 'NEEDS_REVIEW', updated_at = now()"
                    " WHERE id = %s",
                    (invoice_id,),
                )
                conn.commit()
                committed[invoice_id] = time.time()
            conn.execute(
                "UPDATE invoices SET matched_status = 'NEEDS_REVIEW', updated_at = now()"
                " WHERE matched_status = 'MATCHED'"
            )
            conn.commit()
            bulk_committed = time.time()
        ctx.providers.wait_accepted(expected, timeout=SWEEP_MINUTES * 60 + 180, poll=0.2)
        waited = time.time() - bulk_committed
    ctx.postgres.drop(url)

    sendgrid, twilio = ctx.providers.fakes
    arrivals: dict[str, dict[str, float]] = {}
    last_bulk = first_bulk = None
    for channel, fake in (("email", sendgrid), ("sms", twilio)):
        for record in fake.accepted():
            invoice = invoice_of(record.body)
            if invoice in committed:
                arrivals.setdefault(invoice, {})[channel] = record.received_at
            else:
                last_bulk = max(last_bulk or 0.0, record.responded_at or 0.0)
                first_bulk = min(first_bulk or float("inf"), record.received_at)
    latencies = {
        "first": [min(a.values()) - committed[i] for i, a in arrivals.items()],
        "email": [a["email"] - committed[i] for i, a in arrivals.items() if "email" in a],
        "sms": [a["sms"] - committed[i] for i, a in arrivals.items() if "sms" in a],
    }
    stats = {k: summary_ms(v) for k, v in latencies.items()}
    assert last_bulk is not None and first_bulk is not None
    throughput = 2 * bulk / (last_bulk - bulk_committed)
    sending_rate = 2 * bulk / (last_bulk - first_bulk)

    listener_latency = ctx.read("latency")
    listener_throughput = ctx.read("throughput")
    comparison: dict[str, Any] = {}
    if listener_latency:
        fast = listener_latency["latency_ms"]["first"]
        comparison["latency_p50_ratio"] = round(stats["first"]["p50"] / fast["p50"], 1)
        comparison["latency_p99_ratio"] = round(stats["first"]["p99"] / fast["p99"], 1)
        comparison["listener_latency_ms"] = fast
        comparison["listener_latency_from"] = listener_latency["measured_at"]
    if listener_throughput:
        one = next(
            (
                r
                for r in listener_throughput["runs"]
                if r["provider_delay_ms"] == 0
                and r["processes"] == 1
                and r["send_concurrency"] == concurrency
            ),
            None,
        )
        if one:
            comparison["listener_deliveries_per_second"] = one["deliveries_per_second"]
            comparison["throughput_ratio_listener_over_polling"] = round(
                one["deliveries_per_second"] / throughput, 1
            )
            comparison["listener_throughput_from"] = listener_throughput["measured_at"]

    print_table(
        f"Baseline (listener off, sweep every {SWEEP_MINUTES} min) vs listener",
        ["measured", "polling", "listener", "ratio"],
        [
            [
                "latency p50 ms",
                stats["first"]["p50"],
                comparison.get("listener_latency_ms", {}).get("p50", "-"),
                comparison.get("latency_p50_ratio", "-"),
            ],
            [
                "latency p99 ms",
                stats["first"]["p99"],
                comparison.get("listener_latency_ms", {}).get("p99", "-"),
                comparison.get("latency_p99_ratio", "-"),
            ],
            [
                "bulk deliveries/s (commit to last)",
                round(throughput, 1),
                comparison.get("listener_deliveries_per_second", "-"),
                comparison.get("throughput_ratio_listener_over_polling", "-"),
            ],
        ],
    )
    result = {
        "listener_enabled": False,
        "review_notification_interval_minutes": SWEEP_MINUTES,
        "send_concurrency": concurrency,
        "single_transitions": singles,
        "bulk_invoices": bulk,
        "deliveries": expected,
        "reactor_ready_to_bulk_commit_seconds": round(bulk_committed - ready, 2),
        "seconds_from_bulk_commit_to_everything_sent": round(waited, 1),
        "latency_ms": stats,
        "bulk_deliveries_per_second": round(throughput, 2),
        "bulk_sending_rate_once_picked_up": round(sending_rate, 1),
        "first_bulk_request_after_seconds": round(first_bulk - bulk_committed, 2),
        "comparison": comparison,
    }
    ctx.write("baseline", result)
    return result
