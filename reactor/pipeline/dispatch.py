"""The dispatcher's run loop: when to take outbox events, when to claim due rows, how long to wait.

A drain takes new outbox events first (intake: expanded into deliveries and the
first claimed in the same statement), then deliveries that are due (claims:
retries, reminders, expired leases), both with FOR UPDATE SKIP LOCKED so replicas
never share a row, gathers what it claimed into messages (digests) and hands them
to the senders. Between drains it sleeps until a NOTIFY wakes it or the next row it
may claim falls due. Only an idle reactor asks for NOTIFYs (it holds the wake-up
lock, `doorbell.py`); a busy one reads the outbox every OUTBOX_POLL_MILLISECONDS.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime

import structlog

from reactor.db.connections import DATABASE_ERRORS
from reactor.db.store import Store
from reactor.domain.deliveries import DrainReport, Outcome
from reactor.domain.enums import Channel, Status
from reactor.pipeline.channels import ChannelState
from reactor.pipeline.claims import Claims
from reactor.pipeline.digests import Digests
from reactor.pipeline.doorbell import Pacer
from reactor.pipeline.intake import Intake
from reactor.pipeline.senders import Senders
from reactor.settings.service import Settings

log = structlog.get_logger("reactor.dispatch")

IDLE_RECHECK_SECONDS = 60.0


class Dispatcher:
    """Decides when to claim: on every wake-up, and whenever a retry or lease falls due."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        channels: Mapping[Channel, ChannelState],
        senders: Senders,
    ) -> None:
        self._store = store
        self.channels = channels
        self._intake = Intake(store, settings)
        self._claims = Claims(store, settings)
        self._digests = Digests(store, settings)
        self._report = DrainReport()
        self._next_due_at = 0.0  # time.monotonic() when a retry or lease may fall due
        self._due_changed = True
        # With the listener off (the polling baseline) only the sweep's period applies.
        self._idle_recheck = (
            IDLE_RECHECK_SECONDS if settings.listener_enabled else settings.sweep_interval_seconds
        )
        self._stopping = False
        # Stall detection for readiness: when the current pass began (None between
        # passes) and when it last got anything done (a claim or a write).
        self._pass_started: float | None = None
        self._last_progress = time.monotonic()
        self.wake = asyncio.Event()
        self.senders = senders
        senders.on_recorded = self._recorded
        # Set by `reactor run` (with the listener on): when to hold the wake-up lock.
        self.pacer: Pacer | None = None

    # -- the loop --------------------------------------------------------------

    async def run(self) -> None:
        """Drain on every wake-up and whenever a retry or lease falls due, until stopped."""
        failures = 0
        timed_out = True
        while not self._stopping:
            self.wake.clear()
            self._pass_started = time.monotonic()
            try:
                found = await self.drain()
                if timed_out or self._due_changed:
                    # Only when something may have changed: a NOTIFY wake-up costs one
                    # statement, not three.
                    self._due_changed = False
                    self._next_due_at = time.monotonic() + await self._seconds_until_due()
                delay = due_in = max(0.01, self._next_due_at - time.monotonic())
                if self.pacer is not None:
                    delay = await self.pacer.after_pass(found.events > 0, delay, self.wake)
                failures = 0
            except Exception as error:
                failures += 1
                delay = due_in = min(30.0, 0.2 * 2**failures) * random.uniform(0.5, 1.0)
                self._due_changed = True
                if isinstance(error, DATABASE_ERRORS):
                    log.warning(
                        "database unavailable; dispatcher retries",
                        error=str(error),
                        retry_in=round(delay, 2),
                    )
                else:
                    log.exception("dispatcher pass failed; retrying", retry_in=round(delay, 2))
            self._pass_started = None
            if self._stopping:
                break
            if self.pacer is not None:
                woken = await self.pacer.sleep(self.wake, delay)
                # A busy reactor's short poll is not the due time: no need to re-read it.
                timed_out = not woken and delay >= due_in
                continue
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=delay)
                timed_out = False
            except TimeoutError:
                timed_out = True

    async def drain(self, report: DrainReport | None = None) -> DrainReport:
        """Claim everything that is ready and queue it for the senders; don't wait for sends."""
        report = report or DrainReport()
        self._report = report
        senders = self.senders
        outbox_empty = False
        due_done = time.monotonic() < self._next_due_at and not self._due_changed
        while not self._stopping:
            room = senders.room()
            if room < senders.concurrency:
                await senders.wait_for_room()
                continue
            if self.wake.is_set():  # new outbox rows during a long drain go first
                self.wake.clear()
                outbox_empty = False
            paused = self._paused_channels()
            if not outbox_empty:
                taken = await self._intake.take(room, paused, report)
                deliveries, outbox_empty = taken.deliveries, taken.outbox_empty
                due_done = due_done and not self._due_changed
                if taken.scheduled:
                    self._due_changed = True  # wake up again when the first reminder is due
                if taken.left_due:
                    # The overflow waits as due rows: tell every replica, this one included.
                    self._due_changed = True
                    await self._store.announce_due()
            elif not due_done:
                deliveries, due_done = await self._claims.claim_due(room, paused, report)
                self._due_changed = True
            else:
                break
            self._last_progress = time.monotonic()
            report.claimed += len(deliveries)
            messages, held = await self._digests.gather(deliveries)
            if held:
                self._due_changed = True  # wake up again when the window ends
            senders.submit(messages)
            # Yield once: the sender tasks just woken run up to their providers' answers
            # (rendering and writing the request) before this task's next statement.
            await asyncio.sleep(0)
            if report.events and self.pacer is not None:
                await self.pacer.working()
        return report

    async def drain_until_idle(self) -> DrainReport:
        """Drain, wait for every send and write every outcome (one-shot use: CLI, tests)."""
        report = await self.drain()
        await self.wait_idle()
        return report

    async def wait_idle(self) -> None:
        """Wait until every claimed delivery's outcome is committed."""
        await self.senders.wait_idle()

    def _recorded(self, outcomes: list[Outcome]) -> None:
        """The senders committed these outcomes (or releases)."""
        self._last_progress = time.monotonic()
        for outcome in outcomes:
            self._report.add(outcome)
        if any(o.status == Status.PENDING for o in outcomes):
            self._due_changed = True  # a retry was scheduled: re-read when it falls due
            self.wake.set()

    def due_now(self) -> None:
        """Another process says deliveries are due: look at once (NOTIFY on the due channel)."""
        self._due_changed = True
        self.wake.set()

    def _paused_channels(self) -> list[str]:
        return [c.value for c, state in self.channels.items() if state.paused_for() > 0]

    async def _seconds_until_due(self) -> float:
        """Until the next row this process may claim falls due, or a pause ends.

        Rows of a paused channel are not counted: they are due, but this process
        will not claim them before the pause ends, and waking for them would spin.
        """
        next_due = await self._store.next_due(self._paused_channels())
        self._last_progress = time.monotonic()
        wait = self._idle_recheck
        pauses = [p for state in self.channels.values() if (p := state.paused_for()) > 0]
        if pauses:
            wait = min(wait, min(pauses))
        if next_due is not None:
            wait = min(wait, (next_due - datetime.now(UTC)).total_seconds())
        return max(0.01, wait)

    def stalled_for(self) -> float:
        """Seconds the current pass has gone without progress (0 between passes)."""
        if self._pass_started is None:
            return 0.0
        return time.monotonic() - max(self._pass_started, self._last_progress)

    # -- stopping --------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop claiming; the run loop ends after its current statement."""
        self._stopping = True
        self.wake.set()
        self.senders.stop_claiming()

    async def stop(self, grace: float, run_task: asyncio.Task[None] | None = None) -> None:
        """Stop claiming, let sends in flight finish within `grace`, give back the rest.

        Rows claimed but not yet handed to a provider go back to PENDING at once;
        a send still running after the grace period keeps its lease, which expires
        so that another process retries it.
        """
        self.request_stop()
        deadline = time.monotonic() + grace
        if run_task is not None:
            await asyncio.wait({run_task}, timeout=max(0.1, grace))
        await self.senders.stop(deadline)
