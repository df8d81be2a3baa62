"""The peer benchmark: PGQueuer (asyncpg, uvloop) doing the same job, beside the reactor.

The same PostgreSQL, the same fakes and the same transitions: a statement-level
trigger on invoices enqueues one PGQueuer job per invoice moving into review (the
reactor's own triggers are off in these databases), and `bench.peer_worker`
processes send one email and one SMS per job through the official SDKs.
Latency is commit -> the fake's first request; throughput is one 10,000-invoice
UPDATE, with one and two worker processes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import (
    ROOT,
    Context,
    connect,
    invoice_ids,
    load_invoices,
    print_table,
    say,
    set_triggers,
    summary_ms,
)
from bench.latency import measure_transitions

PGQUEUER_VERSION = "1.6.0"
BATCH_SIZE = 10  # PGQueuer's default dequeue batch
CONCURRENCY = 80  # the reactor's SEND_CONCURRENCY

ENQUEUE_TRIGGER = """
CREATE FUNCTION peer_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pgqueuer (priority, entrypoint, payload, status)
    SELECT 0, 'notify', convert_to(n.id::text, 'UTF8'), 'queued'
    FROM peer_new n JOIN peer_old o ON o.id = n.id
    WHERE n.matched_status = 'NEEDS_REVIEW'
      AND o.matched_status IS DISTINCT FROM 'NEEDS_REVIEW';
    RETURN NULL;
END
$$;
CREATE TRIGGER peer_enqueue AFTER UPDATE ON invoices
    REFERENCING OLD TABLE AS peer_old NEW TABLE AS peer_new
    FOR EACH STATEMENT EXECUTE FUNCTION peer_enqueue();
"""


def _install(url: str) -> None:
    """PGQueuer's schema (its own installer), and the enqueueing trigger."""
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    async def install() -> None:
        conn = await asyncpg.connect(url)
        try:
            await Queries(AsyncpgDriver(conn)).install()
        finally:
            await conn.close()

    asyncio.run(install())
    with connect(url, autocommit=True) as conn:
        set_triggers(conn, enabled=False)
        conn.execute(ENQUEUE_TRIGGER)  # type: ignore[arg-type]


def peer_database(ctx: Context, name: str, invoices: int) -> str:
    """A fresh database with `invoices` invoices not in review and PGQueuer installed."""
    url = ctx.postgres.fresh_database(name)
    _install(url)
    with connect(url, autocommit=True) as conn:
        load_invoices(conn, invoices)
        conn.execute("VACUUM ANALYZE invoices")
    return url


@contextmanager
def workers(ctx: Context, url: str, count: int) -> Iterator[list[subprocess.Popen[str]]]:
    """`count` PGQueuer consumer processes, ready, stopped afterwards."""
    env = ctx.providers.env()
    config = {
        "dsn": url,
        "sendgrid_key": env["SENDGRID_API_KEY"],
        "sendgrid_host": env["SENDGRID_API_HOST"],
        "from_email": env["SENDGRID_FROM_EMAIL"],
        "twilio_sid": env["TWILIO_ACCOUNT_SID"],
        "twilio_token": env["TWILIO_AUTH_TOKEN"],
        "twilio_base": env["TWILIO_API_BASE_URL"],
        "from_number": env["TWILIO_FROM_NUMBER"],
        "email": "ap-team@example.com",
        "phone": "+14155552671",
        "frontend": "https://ap.example.com",
        "concurrency": CONCURRENCY,
        "batch_size": BATCH_SIZE,
    }
    started = []
    try:
        for _ in range(count):
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.peer_worker", json.dumps(config)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            started.append(process)
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("the PGQueuer worker did not start")
        time.sleep(2.0)  # its listener connects after "ready"; the bench is not a test
        yield started
    finally:
        for process in started:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def latency(ctx: Context) -> dict[str, Any]:
    """Commit -> first provider request, one transition at a time."""
    count, warmup = ctx.options.size(1000, 100), ctx.options.size(50, 10)
    url = peer_database(ctx, "peer_latency", count + warmup)
    ids = invoice_ids(url, "MATCHED", count + warmup)
    ctx.providers.reset()
    ctx.providers.set_delay(0)
    with workers(ctx, url, 1):
        measure_transitions(ctx, url, ids[:warmup])
        handshakes_before = ctx.providers.handshakes()
        samples = measure_transitions(ctx, url, ids[warmup:])
        handshakes = {k: v - handshakes_before[k] for k, v in ctx.providers.handshakes().items()}
    ctx.postgres.drop(url)
    stats = {c: summary_ms([s[c] for s in samples]) for c in ("first", "email", "sms")}
    print_table(
        f"PGQueuer latency: UPDATE commit -> provider request, {count} transitions (ms)",
        ["measured", "p50", "p95", "p99", "max", "mean"],
        [[c, s["p50"], s["p95"], s["p99"], s["max"], s["mean"]] for c, s in stats.items()],
    )
    return {"transitions": count, "latency_ms": stats, "tls_handshakes": handshakes}


def throughput(ctx: Context, processes: int) -> dict[str, Any]:
    """One UPDATE of 10,000 invoices: messages per second."""
    invoices = ctx.options.size(10_000, 1_000)
    deliveries = 2 * invoices
    url = peer_database(ctx, "peer_throughput", invoices)
    ctx.providers.reset()
    ctx.providers.set_delay(0)
    with workers(ctx, url, processes):
        with connect(url) as conn:
            conn.execute("UPDATE invoices SET matched_status = 'NEEDS_REVIEW'")
            conn.commit()
            committed = time.time()
        ctx.providers.wait_accepted(deliveries, timeout=600)
        handshakes = ctx.providers.handshakes()
    last = max(r.responded_at for f in ctx.providers.fakes for r in f.accepted())
    ctx.postgres.drop(url)
    rate = deliveries / (last - committed)
    say(f"peer: {processes} process(es): {rate:.1f} messages/s; handshakes {handshakes}")
    return {
        "processes": processes,
        "deliveries": deliveries,
        "seconds": round(last - committed, 3),
        "messages_per_second": round(rate, 1),
        "tls_handshakes": handshakes,
    }


def run(ctx: Context) -> dict[str, Any]:
    """The peer's latency, then its throughput with one and two processes."""
    result = {
        "peer": f"pgqueuer {PGQUEUER_VERSION} (asyncpg driver, uvloop)",
        "batch_size": BATCH_SIZE,
        "concurrency": CONCURRENCY,
        "tls": ctx.options.tls,
        "latency": latency(ctx),
        "throughput": [throughput(ctx, n) for n in ctx.options.processes],
    }
    ctx.write("peer", result)
    return result
