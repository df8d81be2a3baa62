"""Benchmark 1: commit-to-provider latency of single-invoice transitions.

One reactor process listens; the bench moves one invoice at a time from MATCHED to
NEEDS_REVIEW, takes `time.time()` right after its COMMIT returns, and waits until
both fakes (one email and one SMS recipient) have received the request for that
invoice. The fakes stamp `received_at` (time.time()) when the request line arrives,
in this same process, so both clocks are the same clock.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench.common import (
    EMAIL_RECIPIENT,
    FRONTEND,
    SMS_RECIPIENT,
    Context,
    bench_settings,
    connect,
    idle_room,
    invoice_ids,
    invoice_of,
    load_invoices,
    print_table,
    provider_call_means,
    reactor_env,
    reactors,
    run_statement,
    say,
    summary_ms,
)
from reactor.domain.messages import InvoiceView
from reactor.messages.renderer import MessageRenderer
from reactor.pipeline.intake import Intake
from reactor.transports.sendgrid import SendGridTransport
from reactor.transports.twilio import TwilioTransport

TARGET_P50_MS = 3.0
TARGET_P99_MS = 8.0
CLAIM_SAMPLES = 100  # extra invoices for timing the claiming statement alone
GAP_SECONDS = 0.02  # idle time between transitions, so each one meets an idle reactor


def measure_transitions(
    ctx: Context, url: str, ids: list[str], gap: float = GAP_SECONDS
) -> list[dict[str, Any]]:
    """Transition each invoice alone and time commit -> each provider's request."""
    sendgrid, twilio = ctx.providers.fakes
    samples = []
    with connect(url) as conn:
        for invoice_id in ids:
            seen_email, seen_sms = len(sendgrid._records), len(twilio._records)
            conn.execute(
                "UPDATE invoices SET matched_status = 'NEEDS_REVIEW', updated_at = now()"
                " WHERE id = %s",
                (invoice_id,),
            )
            before_commit = time.time()
            conn.commit()
            committed = time.time()
            email = sendgrid.wait_for(seen_email + 1, timeout=30, accepted=False)[seen_email]
            sms = twilio.wait_for(seen_sms + 1, timeout=30, accepted=False)[seen_sms]
            for record in (email, sms):
                if invoice_of(record.body) != invoice_id:
                    raise AssertionError(f"expected a request for {invoice_id}, got another")
            samples.append(
                {
                    "invoice_id": invoice_id,
                    "commit_seconds": committed - before_commit,
                    "committed_at": committed,
                    "email": email.received_at - committed,
                    "sms": sms.received_at - committed,
                    "first": min(email.received_at, sms.received_at) - committed,
                }
            )
            # Let the answers be written and the outcomes recorded before the next one.
            sendgrid.wait_for(seen_email + 1, timeout=30)
            twilio.wait_for(seen_sms + 1, timeout=30)
            time.sleep(gap)
    return samples


def claim_breakdown(url: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Split each latency at the moment the reactor took the outbox row.

    `review_episodes.created_at` is `now()` of the reactor's claiming statement
    (`take_events`), i.e. when its transaction started (same machine, same clock):
    commit -> claim is the wake-up (NOTIFY delivery, the event loop, a pooled
    connection); claim -> request is the claiming statement, the hand-off to a sender
    task, rendering and the SDK call up to the request line.
    """
    by_id = {s["invoice_id"]: s for s in samples}
    with connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT invoice_id::text, extract(epoch FROM min(created_at))::float8"
            " FROM review_episodes WHERE invoice_id = ANY(%s::uuid[]) GROUP BY invoice_id",
            (list(by_id),),
        ).fetchall()
    wake, claim_to_first = [], []
    for invoice_id, claimed in rows:
        sample = by_id[invoice_id]
        committed = sample["committed_at"]
        wake.append(claimed - committed)
        claim_to_first.append(sample["first"] - (claimed - committed))
    return {
        "commit_to_claim_ms": summary_ms(wake),
        "claim_to_first_request_ms": summary_ms(claim_to_first),
    }


def claim_statement_alone(url: str, ids: list[str]) -> dict[str, Any]:
    """The reactor's claiming statement for one event, timed on its own (reactor stopped).

    Each invoice is moved into review (the trigger writes its outbox row), then
    `take_events` runs as the dispatcher runs it when idle: autocommit, prepared, with
    the dispatcher's parameters; timed from execute to the rows being fetched.
    """
    params = Intake(None, bench_settings()).params(idle_room(), [])  # type: ignore[arg-type]
    timings = []
    with connect(url, autocommit=True) as writer, connect(url, autocommit=True) as claimer:
        for invoice_id in ids:
            writer.execute(
                "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s", (invoice_id,)
            )
            started = time.perf_counter()
            rows = run_statement(claimer, "take_events", params).fetchall()
            timings.append(time.perf_counter() - started)
            assert rows[0][0] == 1, "expected one claimed event"
    return summary_ms(timings)


def sdk_floor(ctx: Context, count: int) -> dict[str, Any]:
    """Time from calling each transport's send() to the fake receiving the request.

    The part of the latency that belongs to the SDK alone (building the request, the
    pooled connections), measured here with the reactor's own transports, one call at
    a time.
    """
    env = ctx.providers.env()
    renderer = MessageRenderer(frontend_base_url=FRONTEND)
    view = InvoiceView("00000000-0000-4000-8000-000000000000", "INV-1", "Acme", "12.00", "USD")
    email = SendGridTransport(
        env["SENDGRID_API_KEY"], env["SENDGRID_FROM_EMAIL"], env["SENDGRID_API_HOST"], 10.0
    )
    sms = TwilioTransport(
        env["TWILIO_ACCOUNT_SID"],
        env["TWILIO_AUTH_TOKEN"],
        env["TWILIO_API_BASE_URL"],
        10.0,
        from_number=env["TWILIO_FROM_NUMBER"],
    )

    async def measure() -> dict[str, Any]:
        out = {}
        for name, transport, fake, message in (
            ("email", email, ctx.providers.sendgrid, renderer.email(view)),
            ("sms", sms, ctx.providers.twilio, renderer.sms(view)),
        ):
            fake.reset()
            floors, calls = [], []
            for index in range(count + 10):
                started = time.time()
                await transport.send(EMAIL_RECIPIENT if name == "email" else SMS_RECIPIENT, message)
                returned = time.time()
                if index >= 10:  # the first calls open the connections
                    floors.append(fake.requests[-1].received_at - started)
                    calls.append(returned - started)
            out[name] = {
                "call_to_request_ms": summary_ms(floors),
                "whole_call_ms": summary_ms(calls),
            }
            await transport.close()
        return out

    out = asyncio.run(measure())
    ctx.providers.reset()
    return out


def histogram(samples: list[dict[str, Any]], path: Path, title: str) -> bool:
    """Draw the latency histogram PNG; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is not installed (pip install -e '.[test,bench]'): no PNG")
        return False
    series = {
        "first provider request": [s["first"] * 1000 for s in samples],
        "email (SendGrid)": [s["email"] * 1000 for s in samples],
        "SMS (Twilio)": [s["sms"] * 1000 for s in samples],
    }
    first = sorted(series["first provider request"])
    upper = max(first[min(len(first) - 1, int(len(first) * 0.995))] * 1.3, TARGET_P99_MS * 1.2)
    bins = [upper * i / 80 for i in range(81)]
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    for (label, values), style in zip(
        series.items(),
        [
            {"histtype": "stepfilled", "alpha": 0.35, "color": "tab:blue"},
            {"histtype": "step", "linewidth": 1.4, "color": "tab:orange"},
            {"histtype": "step", "linewidth": 1.4, "color": "tab:green"},
        ],
        strict=True,
    ):
        ax.hist([min(v, upper) for v in values], bins=bins, label=label, **style)
    stats = summary_ms([s["first"] for s in samples])
    for name, value, color in (("p50", stats["p50"], "black"), ("p99", stats["p99"], "red")):
        ax.axvline(value, color=color, linestyle="--", linewidth=1)
        ax.text(value, ax.get_ylim()[1] * 0.95, f" {name} {value:.2f} ms", color=color, va="top")
    ax.axvline(TARGET_P50_MS, color="grey", linestyle=":", linewidth=1)
    ax.axvline(TARGET_P99_MS, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("UPDATE commit -> provider receives the request (ms); dotted: targets")
    ax.set_ylabel("transitions")
    ax.set_title(title)
    ax.legend(loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    say(f"wrote {path}")
    return True


def run(ctx: Context) -> dict[str, Any]:
    """Benchmark 1."""
    count = ctx.options.size(1000, 100)
    warmup = ctx.options.size(50, 10)
    concurrency = ctx.options.concurrency[0]
    url = ctx.postgres.fresh_database("latency")
    ctx.providers.reset()
    ctx.providers.set_delay(0)
    with connect(url, autocommit=True) as conn:
        load_invoices(conn, count + warmup + CLAIM_SAMPLES)
        conn.execute("VACUUM ANALYZE invoices")
    ids = invoice_ids(url, "MATCHED", count + warmup + CLAIM_SAMPLES)
    env = reactor_env(url, ctx.providers, concurrency, **ctx.options.settings)
    say(f"latency: {warmup} warm-up + {count} single transitions, one at a time")
    with reactors(env, 1, ctx.log_dir, "latency") as (reactor,):
        measure_transitions(ctx, url, ids[:warmup])
        before = provider_call_means(reactor)
        handshakes_before = ctx.providers.handshakes()
        samples = measure_transitions(ctx, url, ids[warmup : warmup + count])
        after = provider_call_means(reactor)
        handshakes = {k: v - handshakes_before[k] for k, v in ctx.providers.handshakes().items()}
    if ctx.options.tls:
        say(f"latency: TLS handshakes during the {count} transitions: {handshakes}")
    breakdown = claim_breakdown(url, samples)
    breakdown["claim_statement_alone_ms"] = claim_statement_alone(url, ids[warmup + count :])
    ctx.postgres.drop(url)
    breakdown["provider_call_mean_in_reactor_ms"] = after
    breakdown["provider_call_mean_in_reactor_warmup_ms"] = before
    breakdown["sdk_alone"] = sdk_floor(ctx, ctx.options.size(300, 50))
    floor = breakdown["sdk_alone"]

    stats = {
        channel: summary_ms([s[channel] for s in samples]) for channel in ("first", "email", "sms")
    }
    commit = summary_ms([s["commit_seconds"] for s in samples])
    print_table(
        f"Latency: UPDATE commit -> provider request, {count} transitions (ms)",
        ["measured", "p50", "p95", "p99", "max", "mean"],
        [
            [name, s["p50"], s["p95"], s["p99"], s["max"], s["mean"]]
            for name, s in (
                ("first request", stats["first"]),
                ("email (SendGrid)", stats["email"]),
                ("SMS (Twilio)", stats["sms"]),
                ("the COMMIT itself", commit),
                ("commit -> reactor claims", breakdown["commit_to_claim_ms"]),
                ("claim -> first request", breakdown["claim_to_first_request_ms"]),
                ("claim statement alone", breakdown["claim_statement_alone_ms"]),
                ("SDK alone: send() -> email request", floor["email"]["call_to_request_ms"]),
                ("SDK alone: send() -> SMS request", floor["sms"]["call_to_request_ms"]),
            )
        ],
    )
    png = ctx.options.results_dir / "latency.png"
    drew = histogram(
        samples, png, f"Commit-to-provider latency, {count} single transitions, one reactor"
    )
    first = stats["first"]
    result = {
        "transitions": count,
        "warmup": warmup,
        "tls": ctx.options.tls,
        "tls_handshakes": handshakes if ctx.options.tls else None,
        "send_concurrency": concurrency,
        "provider_delay_ms": 0,
        "recipients": {"email": 1, "sms": 1},
        "gap_between_transitions_ms": GAP_SECONDS * 1000,
        "latency_ms": stats,
        "commit_ms": commit,
        "breakdown": breakdown,
        "targets": {"p50_ms": TARGET_P50_MS, "p99_ms": TARGET_P99_MS},
        "met": {
            "p50": first["p50"] <= TARGET_P50_MS,
            "p99": first["p99"] <= TARGET_P99_MS,
        },
        "met_per_channel": {
            channel: {
                "p50": stats[channel]["p50"] <= TARGET_P50_MS,
                "p99": stats[channel]["p99"] <= TARGET_P99_MS,
            }
            for channel in ("email", "sms")
        },
        "histogram_png": "latency.png" if drew else None,
        "raw_samples": "raw/latency.json (first, email, sms in ms; not committed)",
    }
    ctx.write_raw(
        "latency",
        [
            [round(s["first"] * 1000, 3), round(s["email"] * 1000, 3), round(s["sms"] * 1000, 3)]
            for s in samples
        ],
    )
    ctx.write("latency", result)
    return result
