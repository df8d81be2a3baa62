"""Benchmark 3: what the triggers cost the upstream service's UPDATEs.

A table of 100,000 invoices is rebuilt before every measurement (TRUNCATE, one
INSERT ... SELECT with the triggers off, VACUUM ANALYZE, CHECKPOINT), so that every
UPDATE meets the same heap and the same checkpoint state. Each statement is timed
from execute to the end of its COMMIT with the triggers enabled and disabled,
alternating which goes first, and the median of the repetitions is compared. No
reactor runs: this is the cost to the writer alone.

Statements:
- transition: every row MATCHED -> NEEDS_REVIEW (the trigger writes one outbox row
  holding the 100,000 ids, and one NOTIFY);
- not a transition: `SET updated_at = now()` on MATCHED rows (the trigger runs and
  finds nothing to do);
- not a transition, rows already in review: the same on NEEDS_REVIEW rows (the
  trigger's worst non-transition case: every new row is in review, so it must join
  the old rows to find that none entered it).
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import (
    Context,
    connect,
    load_invoices,
    median,
    print_table,
    say,
    set_triggers,
)

TARGET_TRANSITION_RATIO = 1.5
TARGET_NON_TRANSITION_RATIO = 1.05

SCENARIOS = {
    "transition": ("MATCHED", "UPDATE invoices SET matched_status = 'NEEDS_REVIEW'"),
    "not_a_transition": ("MATCHED", "UPDATE invoices SET updated_at = now()"),
    "not_a_transition_rows_in_review": ("NEEDS_REVIEW", "UPDATE invoices SET updated_at = now()"),
}


def _prepare(url: str, rows: int, status: str, triggers: bool) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE invoices, notifications, review_episodes, review_events RESTART IDENTITY"
        )
        set_triggers(conn, False)
        load_invoices(conn, rows, status)
        set_triggers(conn, triggers)
        conn.execute("VACUUM ANALYZE invoices")
        conn.execute("VACUUM ANALYZE review_events")
        conn.execute("CHECKPOINT")


def _timed_update(url: str, statement: str) -> tuple[float, int]:
    """Seconds from execute to the end of COMMIT; invoices written to the outbox."""
    with connect(url) as conn:
        started = time.perf_counter()
        conn.execute(statement)  # type: ignore[arg-type]
        conn.commit()
        seconds = time.perf_counter() - started
        events = conn.execute(
            "SELECT coalesce(sum(cardinality(invoice_ids)), 0) FROM review_events"
        ).fetchone()
        conn.commit()
    return seconds, int(events[0]) if events else 0


def run(ctx: Context) -> dict[str, Any]:
    """Benchmark 3."""
    rows = ctx.options.size(100_000, 20_000)
    repetitions = ctx.options.size(7, 2)
    url = ctx.postgres.fresh_database("trigger")
    scenarios: dict[str, Any] = {}
    for name, (status, statement) in SCENARIOS.items():
        timings: dict[str, list[float]] = {"on": [], "off": []}
        events: dict[str, int] = {}
        for rep in range(repetitions):
            order = ("on", "off") if rep % 2 == 0 else ("off", "on")
            for state in order:
                _prepare(url, rows, status, triggers=state == "on")
                seconds, written = _timed_update(url, statement)
                timings[state].append(seconds)
                events[state] = written
            say(
                f"trigger cost: {name} rep {rep + 1}/{repetitions}: on "
                f"{timings['on'][-1] * 1000:.0f} ms, off {timings['off'][-1] * 1000:.0f} ms"
            )
        on, off = median(timings["on"]), median(timings["off"])
        target = TARGET_TRANSITION_RATIO if name == "transition" else TARGET_NON_TRANSITION_RATIO
        scenarios[name] = {
            "statement": statement,
            "rows_before": status,
            "median_ms_triggers_on": round(on * 1000, 1),
            "median_ms_triggers_off": round(off * 1000, 1),
            "ratio": round(on / off, 3),
            "target_ratio": target,
            "met": on / off <= target,
            "all_ms_on": [round(s * 1000, 1) for s in timings["on"]],
            "all_ms_off": [round(s * 1000, 1) for s in timings["off"]],
            "invoices_written_to_outbox": events,
        }
    outbox_alone = []
    for _ in range(repetitions):
        _prepare(url, rows, "MATCHED", triggers=False)
        seconds, _ = _timed_update(
            url, "INSERT INTO review_events (invoice_ids) SELECT array_agg(id) FROM invoices"
        )
        outbox_alone.append(seconds)
    outbox_ms = round(median(outbox_alone) * 1000, 1)
    ctx.postgres.drop(url)
    print_table(
        f"Trigger cost: {rows:,}-row UPDATE, median of {repetitions}, execute to end of COMMIT",
        ["statement", "triggers on ms", "triggers off ms", "ratio", "target", "met"],
        [
            [
                name,
                s["median_ms_triggers_on"],
                s["median_ms_triggers_off"],
                s["ratio"],
                f"<= {s['target_ratio']}",
                s["met"],
            ]
            for name, s in scenarios.items()
        ],
    )
    say(
        f"trigger cost: the outbox INSERT alone (one review_events row of {rows:,} ids, no "
        f"trigger): {outbox_ms} ms"
    )
    result = {
        "rows": rows,
        "outbox_insert_alone_ms": outbox_ms,
        "repetitions": repetitions,
        "reset_between_runs": "TRUNCATE; INSERT ... SELECT generate_series (triggers off); "
        "VACUUM ANALYZE; CHECKPOINT",
        "scenarios": scenarios,
    }
    ctx.write("trigger_cost", result)
    return result
