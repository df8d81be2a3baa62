"""The sweep: the safety net behind the fast path, on a timer and after every listener connect.

A pass gives an episode to invoices in review that never had one (trigger bypassed
or not yet installed), reading invoices in key order a chunk per pass (the first pass
of a process reads them all), then drains: unprocessed outbox events, due retries and
expired leases all go through the dispatcher's ordinary claim path.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

import structlog

from reactor.db.connections import DATABASE_ERRORS
from reactor.pipeline.prune import prune
from reactor.support import metrics
from reactor.support.masking import mask_text

if TYPE_CHECKING:
    from reactor.db.store import Store
    from reactor.pipeline.dispatch import Dispatcher

log = structlog.get_logger("reactor.sweep")

PRUNE_EVERY_SECONDS = 86_400.0
# Invoices read per pass by the walk that finds orphans: a primary-key range scan of
# this many costs the upstream about 10 ms (BENCHMARKS.md section 4), at any table size.
ORPHAN_CHUNK = 10_000
FIRST_KEY = UUID(int=0)


async def adopt_orphans(
    store: Store, after: UUID = FIRST_KEY, whole_table: bool = True
) -> tuple[int, UUID]:
    """Walk invoices from `after` a chunk at a time (to the end of the table when
    `whole_table`, else one chunk), queueing the orphans: (how many, where to go on)."""
    adopted = 0
    while True:
        chunk = await store.adopt_orphans(after, ORPHAN_CHUNK)
        if chunk is None:  # another replica is sweeping
            return adopted, after
        adopted += chunk.adopted
        if chunk.next_after is None:
            return adopted, FIRST_KEY
        after = chunk.next_after
        if not whole_table:
            return adopted, after


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


class Sweeper:
    """Runs a pass every interval, and whenever asked (after each listener connect)."""

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        interval: float,
        retention_days: int = 0,
        redact: Callable[[str], str] = mask_text,
    ) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._interval = interval
        self._retention_days = retention_days
        self._redact = redact
        self._next_prune = 0.0  # time.monotonic(); the first pass prunes
        self._requested = asyncio.Event()
        self._stop = asyncio.Event()
        self._walk_from = FIRST_KEY  # where the next pass reads invoices from
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
        report = await prune(self._store, self._retention_days)
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
            # The first pass reads the whole table, the later ones a chunk each.
            orphans, self._walk_from = await adopt_orphans(
                self._store, self._walk_from, whole_table=self.state.runs == 0
            )
            self.state.last_error = None
        except DATABASE_ERRORS as error:
            self.state.last_error = self._redact(str(error))  # shown by /health/status
            log.warning("sweep could not reach the database", error=str(error))
        self._dispatcher.wake.set()  # the drain goes first; pruning can wait
        if self._retention_days and time.monotonic() >= self._next_prune:
            try:
                await self._prune()
            except DATABASE_ERRORS as error:
                log.warning("retention pass could not reach the database", error=str(error))
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
