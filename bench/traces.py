"""Benchmark 9: what traces cost the send path (issue 25: nothing off, at most 10% on).

In one run, alternating blocks (off, on, off, on, ...), the same reactor twice: once
without OTEL_EXPORTER_OTLP_ENDPOINT, once exporting every span over OTLP/HTTP to a
sink on 127.0.0.1 that answers like a collector. Measured per block: throughput (one
bulk transition at 0 ms provider delay; the reactor's CPU per delivery) and the latency
of single transitions (commit -> first provider request). The medians of the blocks are
compared: ratios, on over off.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench import throughput
from bench.common import (
    Context,
    connect,
    invoice_ids,
    load_invoices,
    median,
    print_table,
    reactor_env,
    reactors,
    say,
    summary_ms,
)
from bench.latency import measure_transitions

MAX_OVERHEAD = 0.10  # on: at most 10% slower (throughput and latency p50)


class Sink:
    """An OTLP/HTTP receiver that counts exports and answers 200 (an empty response)."""

    def __init__(self) -> None:
        sink = self
        self.exports = 0
        self.bytes = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the exporter's POST /v1/traces
                length = int(self.headers.get("Content-Length") or 0)
                sink.bytes += len(self.rfile.read(length))
                sink.exports += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _with(ctx: Context, settings: dict[str, str]) -> Context:
    return replace(ctx, options=replace(ctx.options, settings={**ctx.options.settings, **settings}))


def _latency(ctx: Context, transitions: int, label: str) -> dict[str, Any]:
    url = ctx.postgres.fresh_database("traces")
    ctx.providers.reset()
    ctx.providers.set_delay(0)
    with connect(url, autocommit=True) as conn:
        load_invoices(conn, transitions + 10)
        conn.execute("VACUUM ANALYZE invoices")
    ids = invoice_ids(url, "MATCHED", transitions + 10)
    env = reactor_env(url, ctx.providers, ctx.options.concurrency[0], **ctx.options.settings)
    with reactors(env, 1, ctx.log_dir, f"traces-{label}"):
        measure_transitions(ctx, url, ids[:10])
        samples = measure_transitions(ctx, url, ids[10:])
    ctx.postgres.drop(url)
    return summary_ms([s["first"] for s in samples])


def run(ctx: Context) -> dict[str, Any]:
    """Benchmark 9."""
    invoices = ctx.options.size(5000, 500)
    transitions = ctx.options.size(200, 30)
    blocks = max(2, ctx.options.repeat)
    concurrency = ctx.options.concurrency[0]
    sink = Sink()
    modes = {
        "off": ctx,
        "on": _with(
            ctx, {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_BSP_SCHEDULE_DELAY": "500"}
        ),
    }
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    try:
        for block in range(blocks):
            for mode, mode_ctx in modes.items():
                say(f"traces: block {block + 1}/{blocks}, tracing {mode}")
                bulk = throughput.reactor_run(mode_ctx, invoices, 0.0, 1, concurrency)
                latency = _latency(mode_ctx, transitions, f"{mode}-{block}")
                runs[mode].append(
                    {
                        "deliveries_per_second": bulk["deliveries_per_second"],
                        "reactor_cpu_ms_per_delivery": bulk["cpu_ms_per_delivery"].get("reactor"),
                        "latency_ms": latency,
                    }
                )
    finally:
        sink.close()

    def med(mode: str, pick: Any) -> float:
        return median([pick(r) for r in runs[mode]])

    rate = {m: med(m, lambda r: r["deliveries_per_second"]) for m in runs}
    cpu = {m: med(m, lambda r: r["reactor_cpu_ms_per_delivery"] or 0.0) for m in runs}
    p50 = {m: med(m, lambda r: r["latency_ms"]["p50"]) for m in runs}
    p99 = {m: med(m, lambda r: r["latency_ms"]["p99"]) for m in runs}
    ratios = {
        "deliveries_per_second_on_over_off": round(rate["on"] / rate["off"], 3),
        "reactor_cpu_per_delivery_on_over_off": round(cpu["on"] / cpu["off"], 3)
        if cpu["off"]
        else None,
        "latency_p50_on_over_off": round(p50["on"] / p50["off"], 3),
        "latency_p99_on_over_off": round(p99["on"] / p99["off"], 3),
    }
    print_table(
        f"Traces: {blocks} alternating blocks, medians ({invoices:,} invoices a bulk, "
        f"{transitions} single transitions)",
        ["tracing", "deliveries/s", "reactor CPU ms/delivery", "latency p50 ms", "p99 ms"],
        [[m, rate[m], cpu[m], p50[m], p99[m]] for m in runs],
    )
    say(f"traces: ratios on/off {json.dumps(ratios)}; {sink.exports} exports received")
    result = {
        "invoices": invoices,
        "deliveries": invoices * 2,
        "transitions": transitions,
        "blocks": blocks,
        "exports_received": sink.exports,
        "export_bytes": sink.bytes,
        "runs": runs,
        "medians": {
            "deliveries_per_second": rate,
            "reactor_cpu_ms_per_delivery": cpu,
            "latency_p50_ms": p50,
            "latency_p99_ms": p99,
        },
        "ratios": ratios,
        "met": {
            "on_at_most_10pct_slower": ratios["deliveries_per_second_on_over_off"]
            >= 1 - MAX_OVERHEAD
            and ratios["latency_p50_on_over_off"] <= 1 + MAX_OVERHEAD,
            "spans_exported": sink.exports > 0,
        },
    }
    ctx.write("traces", result)
    return result
