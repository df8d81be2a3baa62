"""Benchmark 4: the cost of one sweep pass, against the table size and the pending work.

A pass is the statements a sweep runs, in order, as the reactor runs them:
`sweep_lock` + `sweep_orphans` (queue the invoices in review that never had an episode
among one chunk of ORPHAN_CHUNK invoices in key order, as every pass after a process's
first does; the first walks every chunk),
then one round of the dispatcher's drain: `take_events` (take outbox rows, make
episodes, expand and claim deliveries), `claim_due` (one batch of due retries and
expired leases) and `next_due`. Each pass runs in a transaction that is rolled back,
so it can be repeated on the same data; the median of the timed passes is reported,
per statement and in total, with `EXPLAIN (ANALYZE, BUFFERS)` of each statement.

The tables look lived-in: 5% of the invoices have a past review episode (a
review_episodes row and two SENT deliveries); 1,000 of those are still in review,
already notified; the rest are MATCHED or APPROVED. "Nothing pending" is measured at
100,000 and 1,000,000 invoices (the cost should not move); then, at 1,000,000: 1,000
and 10,000 invoices put into review with the triggers bypassed (orphans the sweep must
adopt); 10,000 invoices waiting in the outbox, as one row (one bulk UPDATE) and as
10,000 rows (single-invoice UPDATEs), as when the reactor was down; 10,000
deliveries whose retry is due; and 10,000 reminders scheduled for tomorrow (a pass
must not pay for rows that are not due). `waiting` is the count of rows waiting on
purpose that `reactor status` and /health/status show.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import psycopg

from bench.common import (
    EMAIL_RECIPIENT,
    SMS_RECIPIENT,
    Context,
    bench_settings,
    connect,
    idle_room,
    load_invoices,
    median,
    pipeline_statement,
    print_table,
    run_statement,
    say,
    set_triggers,
)
from reactor.pipeline.claims import Claims
from reactor.pipeline.intake import Intake
from reactor.pipeline.sweep import FIRST_KEY, ORPHAN_CHUNK

TARGET_EMPTY_PASS_MS = 20.0
SETTLED_IN_REVIEW = 1_000
HISTORY_EVERY = 20  # one invoice in 20 has a past episode
TABLES = ("invoices", "review_events", "review_episodes", "notifications")

QUERIES = ["sweep_lock", "sweep_orphans", "take_events", "claim_due", "next_due", "waiting"]


def pass_params() -> dict[str, dict[str, Any]]:
    """Each statement's parameters, as an idle dispatcher computes them by default."""
    settings = bench_settings()
    return {
        "sweep_lock": {},
        "sweep_orphans": {"after": FIRST_KEY, "limit": ORPHAN_CHUNK},  # a periodic pass
        "take_events": Intake(None, settings).params(idle_room(), []),  # type: ignore[arg-type]
        "claim_due": Claims(None, settings).params(idle_room(), []),  # type: ignore[arg-type]
        "next_due": {"paused": []},
        "waiting": {},  # what `reactor status` and /health/status count as waiting
    }


# --------------------------------------------------------------------------- data


def build(conn: psycopg.Connection, invoices: int) -> None:
    """Load `invoices` MATCHED invoices with the history described above (triggers off)."""
    set_triggers(conn, False)
    load_invoices(conn, invoices, "MATCHED")
    past = f"mod(substr(invoice_number, 5)::bigint, {HISTORY_EVERY}) = 0"
    conn.execute(
        "INSERT INTO review_episodes (invoice_id, source, entered_at, created_at)"
        f" SELECT id, 'trigger', updated_at, updated_at FROM invoices WHERE {past}"
    )
    conn.execute(
        "INSERT INTO notifications (invoice_id, episode_id, method, recipient, status, attempts,"
        " next_attempt_at, provider_message_id, sent_at, created_at, updated_at)"
        " SELECT e.invoice_id, e.id, m.method, m.recipient, 'SENT', 1, e.created_at,"
        " 'msg-' || e.id || '-' || m.method, e.created_at, e.created_at, e.created_at"
        " FROM review_episodes e"
        " CROSS JOIN (VALUES ('email', %s), ('sms', %s)) AS m (method, recipient)",
        (EMAIL_RECIPIENT, SMS_RECIPIENT),
    )
    conn.execute(f"UPDATE invoices SET matched_status = 'APPROVED' WHERE {past}")
    conn.execute(
        "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id IN"
        " (SELECT invoice_id FROM review_episodes ORDER BY id LIMIT %s)",
        (SETTLED_IN_REVIEW,),
    )
    set_triggers(conn, True)
    analyze(conn)


def analyze(conn: psycopg.Connection) -> None:
    """VACUUM ANALYZE the tables, as autovacuum would have."""
    for table in TABLES:
        conn.execute(f"VACUUM ANALYZE {table}")  # type: ignore[arg-type]


def counts(conn: psycopg.Connection) -> dict[str, Any]:
    """Row counts and sizes of the tables the sweep reads."""
    out: dict[str, Any] = {}
    for table in TABLES:
        row = conn.execute(
            f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}"  # type: ignore[arg-type]
        ).fetchone()
        assert row is not None
        out[table] = {"rows": row[0], "total_size_mb": round(row[1] / 2**20, 1)}
    row = conn.execute(
        "SELECT count(*) FROM invoices WHERE matched_status = 'NEEDS_REVIEW'"
    ).fetchone()
    out["invoices_in_review"] = row[0] if row else None
    row = conn.execute(
        "SELECT coalesce(sum(cardinality(invoice_ids)), 0) FROM review_events"
    ).fetchone()
    out["invoices_in_outbox"] = row[0] if row else None
    return out


def _matched(conn: psycopg.Connection, count: int) -> list[Any]:
    rows = conn.execute(
        "SELECT id FROM invoices WHERE matched_status = 'MATCHED' LIMIT %s", (count,)
    ).fetchall()
    return [r[0] for r in rows]


def move_into_review(conn: psycopg.Connection, count: int, triggers: bool) -> None:
    """Put `count` MATCHED invoices into review with one UPDATE, with or without triggers."""
    if not triggers:
        set_triggers(conn, False)
    conn.execute(
        "UPDATE invoices SET matched_status = 'NEEDS_REVIEW', updated_at = now()"
        " WHERE id = ANY(%s)",
        (_matched(conn, count),),
    )
    if not triggers:
        set_triggers(conn, True)
    analyze(conn)


def move_one_by_one(conn: psycopg.Connection, count: int) -> None:
    """Put `count` MATCHED invoices into review, one UPDATE each (one outbox row each)."""
    with conn.transaction():
        for invoice_id in _matched(conn, count):
            conn.execute(
                "UPDATE invoices SET matched_status = 'NEEDS_REVIEW', updated_at = now()"
                " WHERE id = %s",
                (invoice_id,),
            )
    analyze(conn)


def settle(conn: psycopg.Connection) -> None:
    """Back to nothing pending: every invoice in review (or in the outbox) gets an episode."""
    conn.execute(
        "INSERT INTO review_episodes (invoice_id, source, entered_at)"
        " SELECT i.id, 'sweep', now() FROM invoices i WHERE i.matched_status = 'NEEDS_REVIEW'"
        " AND NOT EXISTS (SELECT 1 FROM review_episodes e WHERE e.invoice_id = i.id)"
    )
    conn.execute("DELETE FROM review_events")
    analyze(conn)


def make_due_retries(conn: psycopg.Connection, count: int) -> None:
    """`count` deliveries of invoices in review, PENDING with their retry due."""
    _pending_deliveries(
        conn, count, "1, now() - interval '1 minute', 'SendGrid 503: service unavailable'"
    )


def retire_pending(conn: psycopg.Connection) -> None:
    """The previous scenario's due rows, sent: only the next scenario's rows wait."""
    conn.execute("UPDATE notifications SET status = 'SENT' WHERE status = 'PENDING'")


def make_scheduled(conn: psycopg.Connection, count: int) -> None:
    """`count` reminders of invoices in review, PENDING and due tomorrow."""
    _pending_deliveries(conn, count, "0, now() + interval '1 day', NULL", kind="reminder")


def _pending_deliveries(
    conn: psycopg.Connection, count: int, attempts_due_error: str, kind: str = "notice"
) -> None:
    """`count` PENDING deliveries of invoices put into review; SQL for the last three fields."""
    move_into_review(conn, count, triggers=True)
    step = "notice" if kind == "notice" else "after 86400s"
    conn.execute(
        "WITH taken AS (DELETE FROM review_events RETURNING invoice_ids, created_at),"
        " episodes AS ("
        "  INSERT INTO review_episodes (invoice_id, source, entered_at)"
        "  SELECT u.id, 'trigger', t.created_at FROM taken t, unnest(t.invoice_ids) AS u (id)"
        "  RETURNING id, invoice_id)"
        " INSERT INTO notifications (invoice_id, episode_id, kind, step, method, recipient,"
        " status, attempts, next_attempt_at, error_message)"
        f" SELECT e.invoice_id, e.id, %s, %s, 'email', %s, 'PENDING', {attempts_due_error}"
        " FROM episodes e",
        (kind, step, EMAIL_RECIPIENT),
    )
    analyze(conn)


# --------------------------------------------------------------------------- measuring


def _run(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> int:
    cursor = run_statement(conn, name, params, prepare=name not in ("sweep_lock", "sweep_orphans"))
    return len(cursor.fetchall()) if cursor.description else 0


def time_pass(conn: psycopg.Connection, params: dict[str, dict[str, Any]]) -> dict[str, float]:
    """One pass in a transaction that is rolled back; seconds per statement."""
    timings = {}
    with conn.transaction(force_rollback=True):
        for name in QUERIES:
            started = time.perf_counter()
            _run(conn, name, params[name])
            timings[name] = time.perf_counter() - started
    return timings


INDEX_RE = re.compile(r"Index (?:Only )?Scan(?: Backward)? using (\S+) on (\S+)")
BITMAP_RE = re.compile(r"Bitmap Index Scan on (\S+)")
SEQ_RE = re.compile(r"Seq Scan on (\S+)")
EXEC_RE = re.compile(r"Execution Time: ([\d.]+) ms")
PLAN_RE = re.compile(r"Planning Time: ([\d.]+) ms")


def explain_pass(conn: psycopg.Connection, params: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement of one pass, rolled back."""
    plans = {}
    with conn.transaction(force_rollback=True):
        for name in QUERIES:
            query = pipeline_statement(name)
            cursor = psycopg.RawCursor(conn).execute(
                b"EXPLAIN (ANALYZE, BUFFERS) " + query.encoded, query.args(params[name]) or None
            )
            text = "\n".join(row[0] for row in cursor.fetchall())
            executed = EXEC_RE.search(text)
            planned = PLAN_RE.search(text)
            plans[name] = {
                "indexes": sorted(
                    {m.group(1) for m in INDEX_RE.finditer(text)}
                    | {m.group(1) for m in BITMAP_RE.finditer(text)}
                ),
                "seq_scans": sorted({m.group(1) for m in SEQ_RE.finditer(text)}),
                "execution_ms": float(executed.group(1)) if executed else None,
                "planning_ms": float(planned.group(1)) if planned else None,
                "plan": text,  # moved to raw/sweep_cost_plans.json before writing
            }
    return plans


def measure(conn: psycopg.Connection, label: str, pending: str, repetitions: int) -> dict[str, Any]:
    """Median pass timings and the plans for the current state of the tables."""
    params = pass_params()
    time_pass(conn, params)  # warm the caches and the prepared statements
    runs = [time_pass(conn, params) for _ in range(repetitions)]
    per_query = {name: round(median([r[name] for r in runs]) * 1000, 3) for name in QUERIES}
    totals = [sum(r.values()) for r in runs]
    state = counts(conn)
    plans = explain_pass(conn, params)
    result = {
        "scenario": label,
        "pending": pending,
        "tables": state,
        "median_ms": per_query,
        "total_ms": round(median(totals) * 1000, 3),
        "total_ms_all_runs": [round(t * 1000, 3) for t in totals],
        "plans": plans,
    }
    say(f"sweep cost: {label}: pass {result['total_ms']:.2f} ms")
    return result


def run(ctx: Context) -> dict[str, Any]:
    """Benchmark 4."""
    small = ctx.options.size(100_000, 20_000)
    large = ctx.options.size(1_000_000, 100_000)
    pending_small = ctx.options.size(1_000, 100)
    pending_large = ctx.options.size(10_000, 1_000)
    repetitions = ctx.options.size(9, 3)
    scenarios = []

    url = ctx.postgres.fresh_database("sweep_small")
    with connect(url, autocommit=True) as conn:
        say(f"sweep cost: loading {small:,} invoices")
        build(conn, small)
        scenarios.append(measure(conn, f"{small:,} invoices, nothing pending", "none", repetitions))
    ctx.postgres.drop(url)

    url = ctx.postgres.fresh_database("sweep_large")
    with connect(url, autocommit=True) as conn:
        say(f"sweep cost: loading {large:,} invoices")
        started = time.perf_counter()
        build(conn, large)
        say(f"sweep cost: loaded in {time.perf_counter() - started:.0f} s")
        steps: list[tuple[str, str, Callable[[], None]]] = [
            (f"{large:,} invoices, nothing pending", "none", lambda: None),
            (
                f"{large:,} invoices, {pending_small:,} orphans",
                f"{pending_small:,} invoices in review without an episode (triggers bypassed)",
                lambda: move_into_review(conn, pending_small, triggers=False),
            ),
            (
                f"{large:,} invoices, {pending_large:,} orphans",
                f"{pending_large:,} invoices in review without an episode (triggers bypassed)",
                lambda: move_into_review(conn, pending_large - pending_small, triggers=False),
            ),
            (
                f"{large:,} invoices, {pending_large:,} in the outbox as 1 row",
                f"one bulk UPDATE of {pending_large:,} invoices not yet taken (reactor down)",
                lambda: (settle(conn), move_into_review(conn, pending_large, triggers=True)),
            ),
            (
                f"{large:,} invoices, {pending_large:,} in the outbox as {pending_large:,} rows",
                f"{pending_large:,} single-invoice UPDATEs not yet taken (reactor down)",
                lambda: (settle(conn), move_one_by_one(conn, pending_large)),
            ),
            (
                f"{large:,} invoices, {pending_large:,} retries due",
                f"{pending_large:,} PENDING deliveries whose retry is due",
                lambda: (settle(conn), make_due_retries(conn, pending_large)),
            ),
            (
                f"{large:,} invoices, {pending_large:,} reminders scheduled",
                f"{pending_large:,} PENDING reminders due tomorrow (nothing due now)",
                lambda: (settle(conn), retire_pending(conn), make_scheduled(conn, pending_large)),
            ),
        ]
        for label, pending, prepare in steps:
            prepare()
            scenarios.append(measure(conn, label, pending, repetitions))
    ctx.postgres.drop(url)

    print_table(
        f"Sweep pass cost (median of {repetitions}, ms; each pass rolled back)",
        ["scenario", *QUERIES, "total"],
        [[s["scenario"], *(s["median_ms"][q] for q in QUERIES), s["total_ms"]] for s in scenarios],
    )
    print_table(
        "Sweep pass: indexes used and sequential scans (EXPLAIN ANALYZE)",
        ["scenario", "statement", "indexes", "seq scans"],
        [
            [s["scenario"], q, ", ".join(p["indexes"]) or "-", ", ".join(p["seq_scans"]) or "-"]
            for s in scenarios
            for q, p in s["plans"].items()
            if q != "sweep_lock"
        ],
    )
    empty_large = scenarios[1]["total_ms"]
    result = {
        "table_sizes": {"small": small, "large": large},
        "repetitions": repetitions,
        "parameters": pass_params(),
        "scenarios": scenarios,
        "target_empty_pass_ms": TARGET_EMPTY_PASS_MS,
        "met": {"empty_pass_at_large_table": empty_large <= TARGET_EMPTY_PASS_MS},
    }
    ctx.write_raw(
        "sweep_cost_plans",
        {s["scenario"]: {q: plan.pop("plan") for q, plan in s["plans"].items()} for s in scenarios},
    )
    ctx.write("sweep_cost", result)
    return result
