"""The sweep: the safety net behind the fast path.

A pass gives an episode to invoices in review that never had one (trigger bypassed
or not yet installed), then drains: unprocessed outbox events, due retries and
expired leases all go through the dispatcher's ordinary claim path.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from reactor import metrics
from reactor.config import Settings
from reactor.dispatch import DATABASE_ERRORS, Dispatcher, DrainReport
from reactor.masking import mask_text
from reactor.prune import prune
from reactor.resources import sql
from reactor.tables import render_table

log = structlog.get_logger("reactor.sweep")

PRUNE_EVERY_SECONDS = 86_400.0


@dataclass
class SweepState:
    """What the probes report about the sweep."""

    last_run_at: datetime | None = None
    last_duration_seconds: float | None = None
    last_orphans: int = 0
    last_error: str | None = None
    runs: int = 0
    last_prune_at: datetime | None = None
    last_pruned: int = 0  # delivery records deleted by the last retention pass


async def preview(pool: AsyncConnectionPool) -> dict[str, Any]:
    """What a sweep would find now, changing nothing."""
    async with pool.connection() as conn:
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(sql("queries/sweep_preview"))
        row = await cursor.fetchone()
        assert row is not None
        return dict(row)


async def adopt_orphans(pool: AsyncConnectionPool) -> int | None:
    """Queue invoices in review that never had an episode; None if another sweep holds the lock."""
    async with pool.connection() as conn, conn.transaction():
        locked = await (await conn.execute(sql("queries/sweep_lock"))).fetchone()
        if not locked or not locked[0]:
            return None
        row = await (await conn.execute(sql("queries/sweep_orphans"))).fetchone()
        return int(row[0]) if row else 0


class Sweeper:
    """Runs a pass every interval, and whenever asked (after each listener connect)."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        dispatcher: Dispatcher,
        interval: float,
        retention_days: int = 0,
        redact: Callable[[str], str] = mask_text,
    ) -> None:
        self._pool = pool
        self._dispatcher = dispatcher
        self._interval = interval
        self._retention_days = retention_days
        self._redact = redact
        self._next_prune = 0.0  # time.monotonic(); the first pass prunes
        self._requested = asyncio.Event()
        self._stop = asyncio.Event()
        self.state = SweepState()

    def request(self) -> None:
        """Ask for a pass as soon as possible."""
        self._requested.set()

    def stop(self) -> None:
        """Ask the loop to end."""
        self._stop.set()
        self._requested.set()

    async def run(self) -> None:
        """Sweep on request and every interval until stopped."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._requested.wait(), timeout=self._interval)
            self._requested.clear()
            if not self._stop.is_set():
                await self.sweep_once()

    async def _prune(self) -> None:
        """The daily retention pass (RETENTION_DAYS), under the sweep's lock."""
        report = await prune(self._pool, self._retention_days)
        self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        self.state.last_prune_at = datetime.now(UTC)
        self.state.last_pruned = report.notifications
        if report.episodes:
            log.info(
                "pruned old delivery records",
                episodes=report.episodes,
                notifications=report.notifications,
                retention_days=self._retention_days,
            )

    async def sweep_once(self) -> int:
        """One pass: adopt orphans, then wake the dispatcher to drain. Returns orphans found."""
        started = time.perf_counter()
        orphans = 0
        try:
            orphans = await adopt_orphans(self._pool) or 0
            self.state.last_error = None
            self._dispatcher.wake.set()  # the drain goes first; pruning can wait
            if self._retention_days and time.monotonic() >= self._next_prune:
                await self._prune()
        except DATABASE_ERRORS as error:
            self.state.last_error = self._redact(str(error))  # shown by /health/status
            log.warning("sweep could not reach the database", error=str(error))
        self._dispatcher.wake.set()
        duration = time.perf_counter() - started
        self.state.last_run_at = datetime.now(UTC)
        self.state.last_duration_seconds = duration
        self.state.last_orphans = orphans
        self.state.runs += 1
        metrics.SWEEP_RUNS.inc()
        metrics.SWEEP_DURATION.observe(duration)
        metrics.SWEEP_FOUND.labels("orphan_invoices").inc(orphans)
        if orphans:
            log.info("sweep found invoices in review without a notification", count=orphans)
        return orphans


async def sweep_and_drain(
    pool: AsyncConnectionPool, dispatcher: Dispatcher
) -> tuple[int, DrainReport]:
    """One complete pass for `reactor sweep`: adopt orphans, drain, wait for every send."""
    orphans = await adopt_orphans(pool) or 0
    report = await dispatcher.drain_until_idle()
    return orphans, report


async def run_sweep(settings: Settings, database_url: str, dry_run: bool) -> str:
    """`reactor sweep`: one pass (or a preview), returned as a summary table."""
    from reactor.service import make_pool, make_renderer
    from reactor.transports import build_transports

    async with make_pool(database_url, settings.prepare_statements) as pool:
        found = await preview(pool)
        rows: list[tuple[str, object]] = [
            ("invoices waiting in the outbox", found["pending_events"]),
            ("invoices in review never notified", found["orphan_invoices"]),
            ("retries due", found["due_retries"]),
            ("expired leases", found["expired_leases"]),
        ]
        recipients = len(settings.recipients.recipients)
        if dry_run:
            episodes = found["pending_events"] + found["orphan_invoices"]
            would_send = episodes * recipients + found["due_retries"] + found["expired_leases"]
            rows.append(("deliveries that would be attempted (at most)", would_send))
            return render_table(["found (dry run, nothing sent)", "count"], rows)
        dispatcher = Dispatcher(pool, settings, build_transports(settings), make_renderer(settings))
        orphans, report = await sweep_and_drain(pool, dispatcher)
        await dispatcher.stop(grace=0)
        rows += [
            ("invoices adopted from orphans", orphans),
            ("deliveries sent", report.sent),
            ("deliveries failed", report.failed),
            ("deliveries to retry later", report.retrying),
            ("deliveries skipped (left review)", report.skipped),
        ]
        return render_table(["sweep", "count"], rows)
