"""Operator commands: `reactor status`, `reactor retry`, `reactor prune` and `reactor sweep`.

Each runs once on a store of its own (wiring.open_store) and returns what it prints.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from reactor.db.store import Store
from reactor.messages.renderer import clean_line, shorten
from reactor.pipeline.prune import prune
from reactor.pipeline.queue_state import read_queue_state
from reactor.pipeline.sweep import adopt_orphans
from reactor.runtime.wiring import build_dispatcher, open_store
from reactor.settings.service import Settings
from reactor.support.masking import mask_text
from reactor.support.tables import render_table


async def collect_status(store: Store, top: int = 10) -> dict[str, Any]:
    """Counts by channel and status, the outbox backlog, and the top failure messages."""
    by_channel = await store.status_by_channel()
    queue = await read_queue_state(store)
    pauses = await store.channel_pauses()
    failures = await store.top_failures(top)
    subscription = await store.subscription_state()  # replica mode only
    open_rows = await store.open_invoices(top)
    return {
        "deliveries": [
            {"channel": r["method"], "status": r["status"], "count": r["count"]} for r in by_channel
        ],
        "pending_outbox_events": queue.pending_events,
        "oldest_pending_age_seconds": queue.oldest_pending_age_seconds,
        "oldest_outbox_event_age_seconds": queue.oldest_event_age_seconds,
        "waiting": queue.waiting,
        "receipts_last_day": queue.receipts_last_day,
        "paused_channels": {p["method"]: p["paused_by"] for p in pauses},
        "in_review": {
            "untaken": int(open_rows[0]["untaken"]),
            "taken": int(open_rows[0]["taken"]),
            "oldest_untaken": [
                {
                    "invoice": shorten(clean_line(r["invoice_number"]), 40) or str(r["invoice_id"]),
                    "age_seconds": float(r["age_seconds"]),
                }
                for r in open_rows
                if r["invoice_id"] is not None
            ],
        },
        "replication": None
        if subscription is None
        else {
            "enabled": subscription["enabled"],
            "applying": subscription["applying"],
            "tables_in_initial_copy": subscription["tables_syncing"],
            "received_lsn": subscription["received_lsn"],
            "applied_lsn": subscription["applied_lsn"],
        },
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


def waited(seconds: float) -> str:
    """An age for people: "45 s", "12 min", "3.5 h", "2.1 d"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


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
    in_review = status["in_review"]
    parts += [
        "",
        render_table(
            ["in review", "invoices", "oldest untaken (age)"],
            [
                ("untaken", in_review["untaken"], ""),
                ("taken", in_review["taken"], ""),
                *[
                    ("", "", f"{o['invoice']} ({waited(o['age_seconds'])})")
                    for o in in_review["oldest_untaken"]
                ],
            ],
        ),
    ]
    if status["replication"]:
        parts += [
            "",
            render_table(
                ["replication (subscription invoice_reactor)", "value"],
                [
                    (name.replace("_", " "), "-" if value is None else value)
                    for name, value in status["replication"].items()
                ],
            ),
        ]
    if status["paused_channels"]:
        parts += [
            "",
            render_table(["paused channel", "by"], list(status["paused_channels"].items())),
        ]
    if status["receipts_last_day"]:
        parts += [
            "",
            render_table(
                ["channel", "receipts (24 h)", "share by status"],
                [
                    (
                        channel,
                        r["receipts"],
                        ", ".join(f"{s} {share:.0%}" for s, share in r["share"].items()),
                    )
                    for channel, r in status["receipts_last_day"].items()
                ],
            ),
        ]
    if status["waiting"]:
        parts += [
            "",
            render_table(
                ["waiting", "count", "next", "last"],
                [
                    (reason, w["count"], w["next_at"][:19], w["last_at"][:19])
                    for reason, w in status["waiting"].items()
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


def run_status(database_url: str, top: int, as_json: bool) -> str:
    """`reactor status`."""

    async def run() -> str:
        async with open_store(database_url) as store:
            return format_status(await collect_status(store, top), as_json)

    return asyncio.run(run())


def run_retry(
    database_url: str,
    invoice_id: UUID | None = None,
    channel: str | None = None,
    since: datetime | None = None,
) -> int:
    """`reactor retry`: matching FAILED deliveries back to PENDING; tell the reactors."""

    async def run() -> int:
        async with open_store(database_url) as store:
            count = await store.requeue(invoice_id=invoice_id, method=channel, since=since)
            if count:
                await store.announce_due()
            return count

    return asyncio.run(run())


def run_prune(database_url: str, older_than_days: int, dry_run: bool) -> str:
    """`reactor prune`: one retention pass, returned as a summary table."""

    async def run() -> str:
        async with open_store(database_url) as store:
            report = await prune(store, older_than_days, dry_run=dry_run)
        verb = "would be deleted (dry run)" if dry_run else "deleted"
        rows: list[tuple[str, object]] = [
            (f"review episodes {verb}", report.episodes),
            (f"delivery records {verb}", report.notifications),
        ]
        if report.skipped_batches:
            rows.append(("stopped: another reactor holds the sweep lock, run again", 1))
        return render_table([f"older than {older_than_days} days", "count"], rows)

    return asyncio.run(run())


def run_sweep(settings: Settings, database_url: str, dry_run: bool) -> str:
    """`reactor sweep`: one pass (or a preview), returned as a summary table."""

    async def run() -> str:
        async with open_store(database_url, settings.prepare_statements) as store:
            found = await store.sweep_preview()
            rows: list[tuple[str, object]] = [
                ("invoices waiting in the outbox", found["pending_events"]),
                ("invoices in review never notified", found["orphan_invoices"]),
                ("retries due", found["due_retries"]),
                ("expired leases", found["expired_leases"]),
            ]
            if dry_run:
                episodes = found["pending_events"] + found["orphan_invoices"]
                recipients = len(settings.recipients.recipients)
                would_send = episodes * recipients + found["due_retries"] + found["expired_leases"]
                rows.append(("deliveries that would be attempted (at most)", would_send))
                return render_table(["found (dry run, nothing sent)", "count"], rows)
            dispatcher = build_dispatcher(store, settings)
            orphans, _ = await adopt_orphans(store)
            report = await dispatcher.drain_until_idle()
            await dispatcher.stop(grace=0)
        rows += [
            ("invoices adopted from orphans", orphans),
            ("deliveries sent", report.sent),
            ("deliveries failed", report.failed),
            ("deliveries to retry later", report.retrying),
            ("deliveries skipped (left review)", report.skipped),
        ]
        return render_table(["sweep", "count"], rows)

    return asyncio.run(run())
