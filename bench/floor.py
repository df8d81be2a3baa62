"""Benchmark 10 (issue 26): a single invoice's latency beside the floor.

The floor is `bench/floor_program.py`: LISTEN on the reactor's channel, one prepared
`DELETE … RETURNING` of the outbox row, one kept-alive aiohttp request on uvloop. The
reactor runs with one SMS recipient, the same database, trigger and fake. Between them,
the floor program taking the outbox row with the reactor's own claiming statement
(`floor + claim`): the difference to the floor is that statement's cost, the rest is
the reactor's own code. Single transitions, one at a time, in alternating blocks
(floor, floor + claim, reactor, ...), each block a program of its own with the others
stopped; commit returned -> the fake receiving the request. The reactor's time is also
split at its claiming statement's start (`review_episodes.created_at`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import common
from bench.common import (
    ROOT,
    SMS_RECIPIENT,
    TWILIO_SID,
    TWILIO_TOKEN,
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
from bench.latency import claim_breakdown

TARGET_P50_RATIO = 1.5
TARGET_P99_RATIO = 2.0
GAP_SECONDS = 0.02


def sms_transitions(ctx: Context, url: str, ids: list[str]) -> list[dict[str, Any]]:
    """Transition each invoice alone; commit returned -> the fake Twilio's request."""
    twilio = ctx.providers.twilio
    samples = []
    with connect(url) as conn:
        for invoice_id in ids:
            seen = len(twilio._records)
            conn.execute(
                "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s", (invoice_id,)
            )
            conn.commit()
            committed = time.time()
            record = twilio.wait_for(seen + 1, timeout=30, accepted=False)[seen]
            if invoice_of(record.body) != invoice_id:
                raise AssertionError(f"expected a request for {invoice_id}, got another")
            latency = record.received_at - committed
            samples.append({"invoice_id": invoice_id, "committed_at": committed, "first": latency})
            twilio.wait_for(seen + 1, timeout=30)
            time.sleep(GAP_SECONDS)
    return samples


def _floor_block(
    ctx: Context, url: str, ids: list[str], env: dict[str, str], mode: str = ""
) -> list[dict[str, Any]]:
    program = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.floor_program",
            url,
            ctx.providers.twilio.url,
            TWILIO_SID,
            TWILIO_TOKEN,
            mode,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert program.stdout is not None and program.stdout.readline().strip() == "ready"
        return sms_transitions(ctx, url, ids)
    finally:
        program.kill()
        program.wait()
        # Out of review again: the reactor's sweep would adopt them (they have no episode).
        with connect(url, autocommit=True) as conn:
            conn.execute(
                "UPDATE invoices SET matched_status = 'MATCHED' WHERE id = ANY(%s::uuid[])", (ids,)
            )


def run(ctx: Context) -> dict[str, Any]:
    """Benchmark 10."""
    count = ctx.options.size(300, 40)
    warmup = ctx.options.size(20, 5)
    compared = common.COMPARE_TREE
    # The reactors of this checkout and (--compare-tree) of the other one.
    trees: dict[str, Path | None] = {"reactor": None}
    if compared is not None:
        trees[f"reactor of {compared.name}"] = compared
    blocks = 4 if compared else 2  # an A/B wants the drift spread finer
    per_block = count // blocks
    url = ctx.postgres.fresh_database("floor")
    ctx.providers.reset()
    ctx.providers.set_delay(0)
    total = (2 + len(trees)) * blocks * (per_block + warmup)
    with connect(url, autocommit=True) as conn:
        load_invoices(conn, total)
        conn.execute("VACUUM ANALYZE invoices")
    ids = iter(invoice_ids(url, "MATCHED", total))
    env = reactor_env(url, ctx.providers, ctx.options.concurrency[0], **ctx.options.settings)
    env["NOTIFICATION_RECIPIENTS"] = SMS_RECIPIENT
    programs = ["floor", "floor + claim", *trees]
    samples: dict[str, list[dict[str, Any]]] = {who: [] for who in programs}
    say(f"floor: {blocks} alternating blocks of {per_block} single transitions each program")
    for block in range(blocks):
        for who, mode in (("floor", ""), ("floor + claim", "claim")):
            chunk = [next(ids) for _ in range(warmup + per_block)]
            _floor_block(ctx, url, chunk[:warmup], env, mode)
            samples[who] += _floor_block(ctx, url, chunk[warmup:], env, mode)
        for who, tree in trees.items():
            chunk = [next(ids) for _ in range(warmup + per_block)]
            name = f"floor-{'compared' if tree else 'reactor'}-{block}"
            with reactors(env, 1, ctx.log_dir, name, tree):
                sms_transitions(ctx, url, chunk[:warmup])
                samples[who] += sms_transitions(ctx, url, chunk[warmup:])
    breakdown = claim_breakdown(url, samples["reactor"])
    ctx.postgres.drop(url)
    stats = {who: summary_ms([s["first"] for s in found]) for who, found in samples.items()}
    ratio = {q: round(stats["reactor"][q] / stats["floor"][q], 2) for q in ("p50", "p95", "p99")}
    # Where the reactor's extra p50 goes: its claiming statement, and everything else.
    attribution = {
        "claiming_statement_ms": round(stats["floor + claim"]["p50"] - stats["floor"]["p50"], 3),
        "rest_of_the_reactor_ms": round(stats["reactor"]["p50"] - stats["floor + claim"]["p50"], 3),
    }
    print_table(
        f"Floor: commit -> SMS request, {count} single transitions each (ms)",
        ["program", "p50", "p95", "p99", "mean"],
        [[who, s["p50"], s["p95"], s["p99"], s["mean"]] for who, s in stats.items()],
    )
    say(f"floor: reactor / floor {ratio}; extra p50 {attribution}; split: {breakdown}")
    result = {
        "transitions_each": count,
        "blocks": blocks,
        "latency_ms": stats,
        "ratio": ratio,
        "reactor_breakdown": breakdown,
        "extra_p50": attribution,
        "targets": {"p50_ratio": TARGET_P50_RATIO, "p99_ratio": TARGET_P99_RATIO},
        "met": {
            "p50_within_1.5x": ratio["p50"] <= TARGET_P50_RATIO,
            "p99_within_2x": ratio["p99"] <= TARGET_P99_RATIO,
        },
    }
    ctx.write("floor", result)
    return result
