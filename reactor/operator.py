"""Operator commands: `reactor status`, `reactor retry` and `reactor prune`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row

from reactor.db import connect
from reactor.masking import mask_text
from reactor.resources import sql
from reactor.tables import render_table


def collect_status(database_url: str, top: int = 10) -> dict[str, Any]:
    """Counts by channel and status, the outbox backlog, and the top failure messages."""
    with connect(database_url, row_factory=dict_row) as conn:
        by_channel = conn.execute(sql("queries/status_by_channel")).fetchall()
        backlog = conn.execute(sql("queries/backlog")).fetchone() or {}
        failures = conn.execute(sql("queries/top_failures"), {"limit": top}).fetchall()
    oldest = backlog.get("oldest_pending_age_seconds")
    oldest_event = backlog.get("oldest_event_age_seconds")
    return {
        "deliveries": [
            {"channel": r["method"], "status": r["status"], "count": r["count"]} for r in by_channel
        ],
        "pending_outbox_events": backlog.get("pending_events", 0),
        "oldest_pending_age_seconds": None if oldest is None else round(float(oldest), 1),
        "oldest_outbox_event_age_seconds": None
        if oldest_event is None
        else round(float(oldest_event), 1),
        "top_failures": [
            {
                "channel": r["method"],
                # Masked when stored; masked again for history adopted from elsewhere.
                "error_message": mask_text(r["error_message"] or ""),
                "count": r["count"],
                "last_seen": r["last_seen"].isoformat(),
            }
            for r in failures
        ],
    }


def format_status(status: dict[str, Any], as_json: bool) -> str:
    """`reactor status` output: tables, or JSON for scripts."""
    if as_json:
        return json.dumps(status, indent=2)
    parts = [
        render_table(
            ["channel", "status", "count"],
            [(d["channel"], d["status"], d["count"]) for d in status["deliveries"]]
            or [("-", "-", 0)],
        ),
        "",
        render_table(
            ["backlog", "value"],
            [
                ("invoices waiting in the outbox", status["pending_outbox_events"]),
                ("oldest outbox event age (s)", status["oldest_outbox_event_age_seconds"] or "-"),
                ("oldest pending delivery age (s)", status["oldest_pending_age_seconds"] or "-"),
            ],
        ),
    ]
    if status["top_failures"]:
        parts += [
            "",
            render_table(
                ["channel", "failures", "last seen", "error message"],
                [
                    (f["channel"], f["count"], f["last_seen"][:19], f["error_message"] or "")
                    for f in status["top_failures"]
                ],
            ),
        ]
    return "\n".join(parts)


def requeue_failed(
    database_url: str,
    invoice_id: UUID | None = None,
    channel: str | None = None,
    since: datetime | None = None,
) -> int:
    """Put FAILED deliveries matching the filters back to PENDING; tell the reactors."""
    params = {"invoice_id": invoice_id, "method": channel, "since": since}
    with connect(database_url, autocommit=True) as conn:
        row = conn.execute(sql("queries/requeue_failed"), params).fetchone()
        count = int(row[0]) if row else 0
        if count:
            conn.execute(sql("queries/announce_due"))
    return count


def run_prune(database_url: str, older_than_days: int, dry_run: bool) -> str:
    """`reactor prune`: one retention pass, returned as a summary table."""
    import asyncio

    from reactor.prune import prune
    from reactor.service import make_pool

    async def _run() -> str:
        async with make_pool(database_url) as pool:
            report = await prune(pool, older_than_days, dry_run=dry_run)
        verb = "would be deleted (dry run)" if dry_run else "deleted"
        rows: list[tuple[str, object]] = [
            (f"review episodes {verb}", report.episodes),
            (f"delivery records {verb}", report.notifications),
        ]
        if report.skipped_batches:
            rows.append(("stopped: another reactor holds the sweep lock, run again", 1))
        return render_table([f"older than {older_than_days} days", "count"], rows)

    return asyncio.run(_run())
