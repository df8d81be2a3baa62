"""Benchmark 2 (throughput) and 5 (memory): one bulk transition of 10,000 invoices.

Per provider delay and per process count: a fresh database with 10,000 MATCHED
invoices, the reactor process(es) started and ready, then one
`UPDATE invoices SET matched_status = 'NEEDS_REVIEW'`. The clock runs from that
COMMIT to the 20,000th request the fakes answered with a 2xx (one email and one
SMS recipient). The reactors' RSS is sampled every 50 ms for benchmark 5, and the
CPU seconds of the reactors, this process (the fakes) and PostgreSQL are counted
to show where the time goes.

The ceiling is a bare loop (bench/bare_loop.py) in its own process calling the same
SDKs through the reactor's transports with the same concurrency, at 0 ms.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import (
    EMAIL_RECIPIENT,
    FRONTEND,
    ROOT,
    SENDGRID_KEY,
    SMS_RECIPIENT,
    TWILIO_SID,
    TWILIO_TOKEN,
    Context,
    CpuMeter,
    Sampler,
    connect,
    invoice_of,
    load_invoices,
    print_table,
    provider_call_means,
    reactor_env,
    reactor_pids,
    reactors,
    say,
    sent_by,
)

TARGET_SHARE_OF_BARE = 0.80
TARGET_DPS_AT_0MS = 680.0
TARGET_DPS_PER_PROCESS_AT_100MS = 500.0
TARGET_PEAK_RSS_MB = 150.0


def _timeout(deliveries: int, delay_ms: float, concurrency: int, processes: int) -> float:
    floor = deliveries * (delay_ms / 1000.0) / (concurrency * processes)
    return 180.0 + 4 * floor + deliveries / 50.0


def _accepted_records(ctx: Context) -> list[Any]:
    return [r for fake in ctx.providers.fakes for r in fake.accepted()]


def _wait_recorded(url: str, expected: int, timeout: float) -> float:
    """Wait until `expected` notifications rows are SENT; return when (time.time())."""
    deadline = time.monotonic() + timeout
    with connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM notifications WHERE status = 'SENT'")
            sent = row.fetchone()[0]  # type: ignore[index]
            if sent >= expected:
                return time.time()
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {sent} of {expected} deliveries recorded SENT")
            time.sleep(0.05)


@contextlib.contextmanager
def _py_spy(pid: int, path: Path) -> Any:
    """py-spy record (GIL-holding samples, collapsed stacks) on one process while the block
    runs, when py-spy is installed."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        say("py-spy is not installed (pip install -e '.[test,bench]'): no profile")
        yield None
        return
    command = [exe, "record", "--pid", str(pid), "--rate", "250", "--nonblocking", "--gil"]
    command += ["--format", "raw", "--output", str(path)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # let it attach
    try:
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        say(f"wrote {path}")


def _component(stack: str) -> str:
    if "Attempts._send" in stack or "Attempts.make" in stack:
        if "MessageRenderer" in stack:
            return "send threads: rendering the message"
        if "SendGridTransport" in stack:
            return "send threads: SendGrid SDK call"
        if "TwilioTransport" in stack:
            return "send threads: Twilio SDK call"
        return "send threads: other (metrics, logging context, outcome)"
    if "Senders._work" in stack or "concurrent/futures/thread.py" in stack:
        return "send threads: hand-off (queue, waiting for the outcome's commit)"
    if "run_forever" in stack:
        if "psycopg" in stack:
            return "event loop: psycopg (claims, outcome writes)"
        if any(f"reactor/{name}.py" in stack for name in ("dispatch", "senders", "recorder")):
            return "event loop: dispatcher bookkeeping"
        return "event loop: other (asyncio, probes)"
    return "other threads (listener, pool workers, start-up)"


def gil_breakdown(path: Path) -> dict[str, Any]:
    """Share of GIL-holding samples per component, from py-spy's raw (collapsed) output."""
    components: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        components[_component(stack)] += samples
        for frame in set(stack.split(";")[1:]):
            frames[frame.split(":")[0] + ")" if ":" in frame else frame] += samples
    total = max(total, 1)
    return {
        "samples": total,
        "components": {k: round(v / total, 3) for k, v in components.most_common()},
        "top_frames_inclusive": {k: round(v / total, 3) for k, v in frames.most_common(40)},
    }


def reactor_run(
    ctx: Context,
    invoices: int,
    delay_ms: float,
    processes: int,
    concurrency: int,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """One bulk transition of `invoices` invoices handled by `processes` reactors."""
    deliveries = invoices * 2
    url = ctx.postgres.fresh_database("throughput")
    ctx.providers.reset()
    ctx.providers.set_delay(delay_ms)
    with connect(url, autocommit=True) as conn:
        load_invoices(conn, invoices)
        conn.execute("VACUUM ANALYZE invoices")
    env = reactor_env(url, ctx.providers, concurrency, **ctx.options.settings)
    say(
        f"throughput: {deliveries} deliveries, {processes} process(es), "
        f"provider delay {delay_ms:g} ms, SEND_CONCURRENCY {concurrency}"
        + (" (profiled)" if profile_to else "")
    )
    with reactors(env, processes, ctx.log_dir, f"throughput-{delay_ms:g}ms-{processes}p") as procs:
        pids = reactor_pids(procs)
        spy = _py_spy(pids[0], profile_to) if profile_to else contextlib.nullcontext()
        with spy, Sampler(pids) as sampler:
            meter = CpuMeter(pids, ctx.postgres)
            with connect(url) as conn:
                conn.execute(
                    "UPDATE invoices SET matched_status = 'NEEDS_REVIEW', updated_at = now()"
                    " WHERE matched_status = 'MATCHED'"
                )
                conn.commit()
                committed = time.time()
            ctx.providers.wait_accepted(
                deliveries, timeout=_timeout(deliveries, delay_ms, concurrency, processes)
            )
            cpu = meter.used()
            recorded = _wait_recorded(url, deliveries, timeout=120)
        call_ms = [provider_call_means(p) for p in procs]
        handshakes = ctx.providers.handshakes()
        if ctx.options.tls:
            say(f"throughput: TLS handshakes accepted by the fakes: {handshakes}")
        sent = [sent_by(p) for p in procs]
        records = _accepted_records(ctx)
    ctx.postgres.drop(url)

    last = max(r.responded_at for r in records)
    first = min(r.received_at for r in records)
    seconds = last - committed
    keys = Counter((invoice_of(r.body), r.path.endswith(".json")) for r in records)
    rate = deliveries / seconds
    return {
        "provider_delay_ms": delay_ms,
        "processes": processes,
        "send_concurrency": concurrency,
        "deliveries": deliveries,
        "accepted_requests": len(records),
        "tls": ctx.options.tls,
        "tls_handshakes": handshakes if ctx.options.tls else None,
        # Each process's handshakes over its own messages: the process counts cancel.
        "tls_handshakes_per_1000_messages_per_process": round(
            sum(handshakes.values()) * 1000 / deliveries, 1
        )
        if ctx.options.tls
        else None,
        "duplicates": sum(n - 1 for n in keys.values() if n > 1),
        "seconds": round(seconds, 3),
        "deliveries_per_second": round(rate, 1),
        "per_process_deliveries_per_second": round(rate / processes, 1),
        "first_request_after_ms": round((first - committed) * 1000, 1),
        "all_recorded_sent_after_seconds": round(recorded - committed, 3),
        "little_law_cap_per_second": round(concurrency * processes / (delay_ms / 1000.0), 1)
        if delay_ms
        else None,
        "provider_call_mean_ms": call_ms,
        "sent_per_process": sent,
        "peak_rss_mb": sampler.peak_mb(),
        "rss_samples": sampler.samples,
        "cpu_seconds": cpu,
        "cpu_ms_per_delivery": {k: round(v * 1000 / deliveries, 3) for k, v in cpu.items()},
        "cpu_utilisation_of_machine": round(
            sum(v for k, v in cpu.items() if k not in ("other", "steal"))
            / (seconds * (ctx.machine["cpu_count"] or 1)),
            3,
        ),
    }


def bare_loop(ctx: Context, deliveries: int, concurrency: int) -> dict[str, Any]:
    """The SDK-only ceiling at 0 ms, in its own process."""
    ctx.providers.reset()
    ctx.providers.set_delay(0)
    config = {
        "deliveries": deliveries,
        "concurrency": concurrency,
        "frontend": FRONTEND,
        "sendgrid_key": SENDGRID_KEY,
        "sendgrid_url": ctx.providers.sendgrid.url,
        "twilio_sid": TWILIO_SID,
        "twilio_token": TWILIO_TOKEN,
        "twilio_url": ctx.providers.twilio.url,
        "email_recipient": EMAIL_RECIPIENT,
        "sms_recipient": SMS_RECIPIENT,
    }
    say(f"bare SDK loop: {deliveries} calls, concurrency {concurrency}, 0 ms")
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.bare_loop", json.dumps(config)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the bare loop did not start")
    meter = CpuMeter([process.pid], ctx.postgres)
    started = time.time()
    process.stdin.write("go\n")
    process.stdin.flush()
    ctx.providers.wait_accepted(deliveries, timeout=_timeout(deliveries, 0, concurrency, 1))
    cpu = meter.used()
    own = json.loads(process.stdout.readline())
    process.wait(timeout=60)
    records = _accepted_records(ctx)
    seconds = max(r.responded_at for r in records) - started
    return {
        "provider_delay_ms": 0,
        "send_concurrency": concurrency,
        "deliveries": deliveries,
        "errors": own["errors"],
        "seconds": round(seconds, 3),
        "deliveries_per_second": round(deliveries / seconds, 1),
        "own_seconds": round(own["seconds"], 3),
        "cpu_seconds": {
            "bare_loop": cpu["reactor"],
            "bench_and_fakes": cpu["bench_and_fakes"],
            "other": cpu["other"],
            "steal": cpu["steal"],
        },
        "cpu_ms_per_delivery": round(cpu["reactor"] * 1000 / deliveries, 3),
        "render_ms_per_message_not_timed": round(own["render_ms_per_message"], 3),
    }


def _median_run(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """The repetition with the median rate, with every repetition's rate beside it."""
    ordered = sorted(reps, key=lambda r: r["deliveries_per_second"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["repetitions"] = len(reps)
    chosen["all_deliveries_per_second"] = [r["deliveries_per_second"] for r in reps]
    if "peak_rss_mb" in chosen:
        per_process = zip(*(r["peak_rss_mb"] for r in reps), strict=True)
        chosen["peak_rss_mb"] = [max(mb) for mb in per_process]
    return chosen


def run(ctx: Context) -> dict[str, Any]:
    """Benchmarks 2 and 5."""
    invoices = ctx.options.size(10_000, 1_000)
    deliveries = invoices * 2
    base_concurrency = ctx.options.concurrency[0]
    repeats = ctx.options.size(ctx.options.repeat, 1)

    # The comparison the 0 ms targets rest on, one process against the bare loop, is
    # repeated, alternating the two, and the medians are compared.
    reactor_reps, bare_reps = [], []
    for _ in range(repeats):
        reactor_reps.append(reactor_run(ctx, invoices, 0, 1, base_concurrency))
        bare_reps.append(bare_loop(ctx, deliveries, base_concurrency))
    bare = _median_run(bare_reps)
    runs = []
    for delay in ctx.options.delays_ms:
        for concurrency in ctx.options.concurrency:
            for processes in ctx.options.processes:
                if (delay, processes, concurrency) == (0, 1, base_concurrency):
                    runs.append(_median_run(reactor_reps))
                else:
                    runs.append(reactor_run(ctx, invoices, delay, processes, concurrency))
        sizing = ctx.options.sizing_concurrency
        if delay > 0 and sizing and sizing > max(ctx.options.concurrency):
            extra = reactor_run(ctx, invoices, delay, 1, sizing)
            extra["sizing"] = True
            runs.append(extra)
    profile = None
    if ctx.options.profile:
        path = ctx.work_dir / "profile-throughput-0ms.txt"
        profiled = reactor_run(ctx, invoices, 0, 1, base_concurrency, profile_to=path)
        if path.exists():
            profile = gil_breakdown(path)
            profile["deliveries_per_second_while_profiled"] = profiled["deliveries_per_second"]
            print_table(
                "Where one reactor holds the GIL at 0 ms (py-spy --gil samples)",
                ["component", "share"],
                [[k, f"{v:.1%}"] for k, v in profile["components"].items()],
            )

    print_table(
        f"Throughput: {invoices:,} invoices moved into review by one UPDATE "
        f"({deliveries:,} deliveries)",
        [
            "delay ms",
            "procs",
            "concurrency",
            "seconds",
            "deliveries/s",
            "per process",
            "peak RSS MB",
            "reactor CPU ms/delivery",
        ],
        [
            [
                r["provider_delay_ms"],
                r["processes"],
                r["send_concurrency"],
                r["seconds"],
                r["deliveries_per_second"],
                r["per_process_deliveries_per_second"],
                max(r["peak_rss_mb"]),
                r["cpu_ms_per_delivery"]["reactor"],
            ]
            for r in runs
        ]
        + [
            [
                "0 (bare SDK loop)",
                1,
                bare["send_concurrency"],
                bare["seconds"],
                bare["deliveries_per_second"],
                bare["deliveries_per_second"],
                "-",
                bare["cpu_ms_per_delivery"],
            ]
        ],
    )

    def find(delay: float, processes: int) -> dict[str, Any] | None:
        for r in runs:
            if (
                r["provider_delay_ms"] == delay
                and r["processes"] == processes
                and r["send_concurrency"] == base_concurrency
            ):
                return r
        return None

    one_at_0 = find(0, 1)
    share = (
        round(one_at_0["deliveries_per_second"] / bare["deliveries_per_second"], 3)
        if one_at_0
        else None
    )
    met: dict[str, Any] = {}
    if one_at_0 is not None and share is not None:
        met["share_of_bare_loop_at_0ms"] = share >= TARGET_SHARE_OF_BARE
        met["deliveries_per_second_at_0ms"] = one_at_0["deliveries_per_second"] > TARGET_DPS_AT_0MS
    slow = [r for r in runs if r["provider_delay_ms"] >= 100]
    for r in slow:
        delay, procs, conc = r["provider_delay_ms"], r["processes"], r["send_concurrency"]
        key = f"per_process_at_{delay:g}ms_{procs}p_c{conc}"
        met[key] = r["per_process_deliveries_per_second"] >= TARGET_DPS_PER_PROCESS_AT_100MS
    peak = max(max(r["peak_rss_mb"]) for r in runs)
    memory = {
        "peak_rss_mb": peak,
        "target_mb": TARGET_PEAK_RSS_MB,
        "met": peak <= TARGET_PEAK_RSS_MB,
    }
    print_table(
        "Memory: peak RSS of a reactor process during the throughput runs",
        ["peak RSS MB", "target MB", "met"],
        [[peak, TARGET_PEAK_RSS_MB, memory["met"]]],
    )
    result = {
        "invoices": invoices,
        "deliveries": deliveries,
        "recipients": {"email": 1, "sms": 1},
        "runs": runs,
        "bare_loop": bare,
        "reactor_share_of_bare_loop_at_0ms": share,
        "targets": {
            "share_of_bare_loop_at_0ms": TARGET_SHARE_OF_BARE,
            "deliveries_per_second_at_0ms": TARGET_DPS_AT_0MS,
            "per_process_deliveries_per_second_at_100ms": TARGET_DPS_PER_PROCESS_AT_100MS,
        },
        "met": met,
        "memory": memory,
        "profile": profile,
    }
    ctx.write("throughput", result)
    return result
