"""Benchmark: what the reactor costs the upstream's own writers, many at once.

The workload is an upstream matcher: 100,000 invoices, each transaction one UPDATE
of one invoice in or out of review (a toggle: half the transactions move an invoice
into review), from 1, 16 and 64 pgbench connections. Two machines are simulated on
two cores: the upstream server and its writers on core 0, the reactor and the fake
providers on core 1, so that the reactor's CPU does not count as the database's.
PostgreSQL runs with fsync and synchronous_commit on (commits wait for the disk).

Configurations, each on a fresh database loaded the same way, in one run:
- `none`: no reactor objects on the table (the reference);
- `previous trigger`: the trigger as it shipped before this change (read from git at
  PREVIOUS_COMMIT) and the partial index on invoices in review that came with it,
  nobody consuming;
- `trigger`: today's trigger (and no index of ours on invoices), nobody consuming (the
  outbox just grows);
- `reactor`: today's trigger with a reactor consuming and sending to the fakes (its
  bookkeeping committed without waiting for the WAL flush, the default);
- `reactor, sync bookkeeping`: the same with DATABASE_SYNCHRONOUS_COMMIT=on;
- `replica mode`: the upstream holds only a publication; a reactor with its own
  database (a second server, on the reactor's core, its data on a second disk: see
  `second_disk`) subscribes, consumes and sends.
Reported: transactions per second and mean latency, as ratios to `none` at the same
writer count. The disk's flush time drifts on a shared machine, so every configuration
runs `--repeat` times in rounds (each round every configuration once, in order), a
ratio is taken to the `none` of the same round, and the median of the rounds is kept.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from bench.common import (
    POSTGRES_SETTINGS,
    Context,
    print_table,
    reactor_env,
    reactors,
    say,
    summary_ms,
)
from bench.latency import measure_transitions
from reactor.db import migrations, replica
from reactor.db.embedded import EmbeddedPostgres, bin_dir
from reactor.support.resources import sql

INVOICES = 100_000
PREVIOUS_COMMIT = "1a0d044"  # the trigger before issue 20: statement-level, NOTIFY each time
UPSTREAM_CORE, REACTOR_CORE = 0, 1

TOGGLE = """\\set n random(1, {invoices})
UPDATE invoices SET matched_status = CASE matched_status WHEN 'NEEDS_REVIEW' THEN 'MATCHED'
    ELSE 'NEEDS_REVIEW' END, updated_at = now() WHERE seq = :n;
"""


def _pinned(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {core})


@contextmanager
def upstream_server(
    work_dir: Path, name: str = "upstream-pg", core: int = UPSTREAM_CORE
) -> Iterator[EmbeddedPostgres]:
    """A durable server of its own, started from `core` (its backends inherit the pin).

    wal_level is logical for every configuration, so that replica mode's upstream and
    the others' are the same server with the same WAL.
    """
    settings = {**POSTGRES_SETTINGS, "max_connections": "200", "wal_level": "logical"}
    server = EmbeddedPostgres(work_dir / name, settings=settings)
    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    _pinned(core)
    try:
        server.start()
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)
    try:
        yield server
    finally:
        server.destroy()


def second_disk(work_dir: Path) -> Path:
    """Where the reactor's own server (replica mode) keeps its data: the second machine's
    disk. This machine has one disk; tmpfs stands in for the other, so that the reactor's
    commits do not queue with the upstream's at the same device (fsync stays on)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == work_dir.stat().st_dev:
        return work_dir
    folder = Path(tempfile.mkdtemp(prefix="reactor-bench-own-", dir=shm))
    folder.chmod(0o711)  # as root, the embedded server runs as another user
    return folder


def _load(url: str) -> None:
    """The upstream's invoices: its own table with an integer key pgbench can pick."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE invoices (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
            " seq integer NOT NULL UNIQUE, invoice_number text, vendor_name text,"
            " total_amount numeric(12,2), currency char(3), matched_status varchar(20) NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now(),"
            " updated_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO invoices (seq, invoice_number, vendor_name, total_amount, currency,"
            " matched_status) SELECT g, 'INV-' || g, 'Vendor ' || (g % 5000),"
            " round((random() * 10000)::numeric, 2), 'USD',"
            " CASE WHEN g % 2 = 0 THEN 'NEEDS_REVIEW' ELSE 'MATCHED' END"
            f" FROM generate_series(1, {INVOICES}) g"
        )


def _previous_trigger() -> str:
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(
        ["git", "show", f"{PREVIOUS_COMMIT}:sql/trigger_up.sql"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def fresh_database(server: EmbeddedPostgres, name: str, configuration: str) -> str:
    """A database loaded with the invoices and the configuration's reactor objects."""
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    url = server.url_for(name)
    _load(url)
    if configuration != "none":
        migrations.upgrade(url)
        # The invoices already in review were told about before the run: no backlog.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO review_episodes (invoice_id, source, entered_at) "
                "SELECT id, 'legacy', now() FROM invoices WHERE matched_status = 'NEEDS_REVIEW'"
            )
    if configuration == "previous trigger":
        with psycopg.connect(url, autocommit=True) as conn:
            for trigger in ("reactor_invoices_inserted", "reactor_invoices_updated"):
                conn.execute(f"DROP TRIGGER IF EXISTS {trigger} ON invoices")  # type: ignore[arg-type]
            conn.execute("DROP FUNCTION IF EXISTS reactor_invoices_inserted() CASCADE")
            conn.execute("DROP FUNCTION IF EXISTS reactor_invoices_updated() CASCADE")
            conn.execute(_previous_trigger())  # type: ignore[arg-type]
            conn.execute(sql("schema/0002_invoices_index_up"))  # it shipped with this index
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    return url


def _wal_bytes(url: str) -> float:
    """The server's WAL written so far, in bytes (every database on it)."""
    return float(_scalar(url, "SELECT wal_bytes FROM pg_stat_wal"))


def pgbench(url: str, writers: int, seconds: int, script: Path) -> dict[str, float]:
    """One pgbench run pinned to the upstream's core: tps, mean latency (ms), and the WAL
    the server wrote per transaction meanwhile (the reactor's own statements included,
    when it runs on this server: all of it goes through the writers' flushes)."""
    command = [
        str(bin_dir() / "pgbench"),
        "-n",
        "-c",
        str(writers),
        "-j",
        str(min(writers, 4)),
        "-T",
        str(seconds),
        "-f",
        str(script),
        url,
    ]
    if (os.cpu_count() or 1) > 1:
        command = ["taskset", "-c", str(UPSTREAM_CORE), *command]
    wal_before = _wal_bytes(url)
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if result.returncode != 0:
        raise RuntimeError(f"pgbench failed: {result.stderr.strip()[-500:]}")
    wal = _wal_bytes(url) - wal_before
    tps = re.search(r"tps = ([0-9.]+)", result.stdout)
    latency = re.search(r"latency average = ([0-9.]+) ms", result.stdout)
    done = re.search(r"number of transactions actually processed: ([0-9]+)", result.stdout)
    assert tps and latency and done, result.stdout
    return {
        "tps": float(tps.group(1)),
        "latency_ms": float(latency.group(1)),
        "wal_bytes_per_transaction": round(wal / max(1, int(done.group(1))), 1),
    }


def _outbox_and_sent(url: str) -> tuple[int, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM review_events),"
            " (SELECT count(*) FROM notifications WHERE status = 'SENT')"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


CONFIGURATIONS = (
    "none",
    "previous trigger",
    "trigger",
    "reactor",
    "reactor, sync bookkeeping",
    "replica mode",
)


def replica_databases(upstream: EmbeddedPostgres, own: EmbeddedPostgres, name: str) -> str:
    """Replica mode set up as an operator would, caught up before the run: the reactor's URL.

    The upstream gets its invoices and the publication only; the reactor's own server
    (pinned to the reactor's core) the copy, the schema and the subscription. The
    initial copy's notices for the invoices already in review are cleared before the
    run (as if sent), as the direct configurations start with nothing to send.
    """
    upstream_url = fresh_database(upstream, name, "none")
    columns = replica.upstream_columns(upstream_url)
    with psycopg.connect(upstream_url, autocommit=True) as conn:
        conn.execute(replica.upstream_sql(columns))  # type: ignore[arg-type]
    with psycopg.connect(own.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    reactor_url = own.url_for(name)
    replica.prepare(reactor_url, upstream_url)
    migrations.upgrade(reactor_url)
    replica.subscribe(reactor_url, upstream_url)
    deadline = time.monotonic() + 300
    while _scalar(reactor_url, "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'"):
        if time.monotonic() > deadline:
            raise TimeoutError("the initial copy did not finish in 300 s")
        time.sleep(0.2)
    with psycopg.connect(reactor_url, autocommit=True) as conn:
        conn.execute("DELETE FROM review_events")
        conn.execute(
            "INSERT INTO review_episodes (invoice_id, source, entered_at) "
            "SELECT id, 'legacy', now() FROM invoices WHERE matched_status = 'NEEDS_REVIEW'"
        )
        conn.execute("VACUUM ANALYZE")
    return reactor_url


def drop_replica(upstream: EmbeddedPostgres, own: EmbeddedPostgres, name: str) -> None:
    """The subscription (and so the upstream's slot) and the databases called `name`."""
    with psycopg.connect(own.url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists:
        with psycopg.connect(own.url_for(name), autocommit=True) as conn:
            conn.execute("DROP SUBSCRIPTION IF EXISTS invoice_reactor")
    for server in (own, upstream):
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
    with psycopg.connect(upstream.url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {replica.REPLICATION_ROLE}")  # type: ignore[arg-type]


def replica_latency(
    ctx: Context, upstream: EmbeddedPostgres, own: EmbeddedPostgres
) -> dict[str, dict[str, float]]:
    """Commit on the upstream -> first provider request, direct beside replica mode.

    Both reactors run at once (each on its own invoices); blocks of single transitions
    alternate between the modes, so that both meet the same machine.
    """
    per_block = 25 if ctx.options.quick else 100
    blocks = 2 if ctx.options.quick else 3
    direct_url = fresh_database(upstream, "latency_direct", "reactor")
    replica_url = replica_databases(upstream, own, "latency_replica")
    upstream_of_replica = upstream.url_for("latency_replica")
    concurrency = ctx.options.concurrency[0]
    samples: dict[str, list[float]] = {"direct": [], "replica": []}
    direct_env = reactor_env(direct_url, ctx.providers, concurrency)
    replica_env = reactor_env(
        replica_url, ctx.providers, concurrency, UPSTREAM_DATABASE_URL=upstream_of_replica
    )
    wanted = per_block * blocks
    direct_ids = _matched(direct_url, wanted)
    replica_ids = _matched(upstream_of_replica, wanted)
    with (
        reactors(direct_env, 1, ctx.log_dir, "latency-direct"),
        reactors(replica_env, 1, ctx.log_dir, "latency-replica"),
    ):
        for block in range(blocks):
            part = slice(block * per_block, (block + 1) * per_block)
            for mode, url, ids in (
                ("direct", direct_url, direct_ids[part]),
                ("replica", upstream_of_replica, replica_ids[part]),
            ):
                measured = measure_transitions(ctx, url, ids)
                samples[mode] += [m["first"] for m in measured]
    drop_replica(upstream, own, "latency_replica")
    return {mode: summary_ms(values) for mode, values in samples.items()}


def _matched(url: str, count: int) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id::text FROM invoices WHERE matched_status = 'MATCHED' ORDER BY seq LIMIT %s",
            (count,),
        ).fetchall()
    return [row[0] for row in rows]


def _scalar(url: str, statement: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(statement).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None


def _measure(
    ctx: Context,
    server: EmbeddedPostgres,
    own: EmbeddedPostgres,
    configuration: str,
    writers: int,
    seconds: int,
    script: Path,
) -> dict[str, float]:
    """One configuration at one writer count, on databases made for it and dropped after."""
    name = "upstream_" + re.sub(r"\W+", "_", configuration) + f"_{writers}"
    extra: dict[str, str] = {}
    if configuration == "replica mode":
        reactor_url = replica_databases(server, own, name)
        upstream_url = server.url_for(name)
        extra["UPSTREAM_DATABASE_URL"] = upstream_url
    else:
        reactor_url = upstream_url = fresh_database(server, name, configuration)
        if "sync" in configuration:
            extra["DATABASE_SYNCHRONOUS_COMMIT"] = "on"
    if configuration.startswith(("reactor", "replica")):
        env = reactor_env(reactor_url, ctx.providers, ctx.options.concurrency[0], **extra)
        with reactors(env, 1, ctx.log_dir, name):
            measured = pgbench(upstream_url, writers, seconds, script)
    else:
        measured = pgbench(upstream_url, writers, seconds, script)
    if configuration != "none":
        measured["outbox_left"], measured["sent"] = _outbox_and_sent(reactor_url)
    drop_replica(server, own, name)
    return measured


def _medians(runs: list[dict[str, float]], none: list[dict[str, float]]) -> dict[str, Any]:
    """One configuration's rounds at one writer count: the medians, and the median of its
    ratios to the `none` run of the same round."""
    return {
        "tps": statistics.median(r["tps"] for r in runs),
        "wal_bytes_per_transaction": statistics.median(
            r.get("wal_bytes_per_transaction", float("nan")) for r in runs
        ),
        "latency_ms": statistics.median(r["latency_ms"] for r in runs),
        "ratio": statistics.median(r["tps"] / n["tps"] for r, n in zip(runs, none, strict=True)),
        "latency_ratio": statistics.median(
            r["latency_ms"] / n["latency_ms"] for r, n in zip(runs, none, strict=True)
        ),
        "rounds": runs,
    }


def run(ctx: Context) -> dict[str, Any]:
    """Every configuration at every writer count; ratios to `none`."""
    seconds = 5 if ctx.options.quick else 15
    script = ctx.work_dir / "toggle.sql"
    script.write_text(TOGGLE.format(invoices=INVOICES))
    rounds = ctx.options.size(ctx.options.repeat, 1)
    writer_counts = sorted(set(ctx.options.writers))
    results: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in CONFIGURATIONS}
    _pinned(REACTOR_CORE)  # this process holds the fake providers
    own_dir = second_disk(ctx.work_dir)
    try:
        with (
            upstream_server(ctx.work_dir) as server,
            upstream_server(own_dir, "reactor-pg", REACTOR_CORE) as own,
        ):
            for writers in writer_counts:
                runs: dict[str, list[dict[str, float]]] = {c: [] for c in CONFIGURATIONS}
                for round_ in range(rounds):
                    for configuration in CONFIGURATIONS:
                        measured = _measure(
                            ctx, server, own, configuration, writers, seconds, script
                        )
                        runs[configuration].append(measured)
                        say(f"{configuration:>16} x{writers:<3} round {round_ + 1} {measured}")
                for configuration, measured_runs in runs.items():
                    results[configuration][str(writers)] = _medians(measured_runs, runs["none"])
            latency = replica_latency(ctx, server, own)
    finally:
        if own_dir != ctx.work_dir:
            shutil.rmtree(own_dir, ignore_errors=True)
    rows = []
    for configuration in CONFIGURATIONS:
        row: list[Any] = [configuration]
        for writers in writer_counts:
            mine = results[configuration][str(writers)]
            row += [f"{mine['ratio']:.2f}", f"{mine['latency_ratio']:.2f}"]
        rows.append(row)
    headers = ["configuration"]
    for writers in writer_counts:
        headers += [f"tps x{writers}", f"latency x{writers}"]
    print_table("upstream throughput and latency, as ratios to no reactor", headers, rows)
    print_table(
        "WAL written on the upstream per upstream transaction (bytes, median)",
        ["configuration", *(f"x{writers}" for writers in writer_counts)],
        [
            [c, *(f"{results[c][str(w)]['wal_bytes_per_transaction']:.0f}" for w in writer_counts)]
            for c in CONFIGURATIONS
        ],
    )
    print_table(
        "commit on the upstream -> first provider request, one invoice at a time (ms)",
        ["mode", "p50", "p95", "p99", "samples"],
        [[mode, s["p50"], s["p95"], s["p99"], s["n"]] for mode, s in latency.items()],
    )
    data = {
        "seconds": seconds,
        "rounds": rounds,
        "invoices": INVOICES,
        "writers": writer_counts,
        "results": results,
        "latency_ms": latency,
    }
    ctx.write("upstream", data)
    return data
