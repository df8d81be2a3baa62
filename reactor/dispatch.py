"""Claim, send, record: the one path every delivery follows.

A drain claims work in two ways, both with FOR UPDATE SKIP LOCKED so replicas never
share a row: new outbox events (expanded into deliveries and claimed in the same
statement), then deliveries that are due (retries, expired leases). Claimed
deliveries go on a queue served by SEND_CONCURRENCY worker threads (the SDKs are
blocking); outcomes come back to the event loop and are written in batches. A
worker takes its next delivery only once its last outcome is committed, so at any
moment at most SEND_CONCURRENCY rows are sent but not yet recorded: that bounds
the duplicates a crash can cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import structlog
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from tenacity import AsyncRetrying, retry_if_exception_type, wait_random_exponential

from reactor import metrics
from reactor.config import Settings
from reactor.masking import mask_text
from reactor.messages import InvoiceView, MessageRenderer
from reactor.recipients import Channel
from reactor.resources import sql
from reactor.transports import FailureClass, SendError, Transport

log = structlog.get_logger("reactor.dispatch")

DATABASE_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)
# The database is up but refuses what we wrote (bad data, a constraint): retrying the
# same batch would never succeed, so its rows are written one by one instead. Anything
# else (a connection lost, a bug in our SQL) is retried: the stall shows in readiness.
REJECTED_ERRORS = (psycopg.DataError, psycopg.IntegrityError)
AUTH_PAUSE_SECONDS = 60.0
IDLE_RECHECK_SECONDS = 60.0


@dataclass(frozen=True)
class Delivery:
    """One claimed notification: a message for one recipient on one channel."""

    id: int
    claim_token: UUID  # this claim's; only it may record the outcome
    channel: Channel
    recipient: str
    attempts: int
    invoice: InvoiceView
    event_created_at: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery; `status` is the row's next status."""

    delivery_id: int
    claim_token: UUID
    status: str  # SENT, FAILED or PENDING (retry)
    message_id: str | None = None
    error: str | None = None
    retry_in: float = 0.0
    refund: int = 0  # 1 when the attempt never counted (channel paused, rate limited)


@dataclass
class DrainReport:
    """Counts of one drain, for `reactor sweep` and the status endpoint."""

    events: int = 0
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    skipped: int = 0

    def add(self, outcome: Outcome) -> None:
        """Count one outcome."""
        if outcome.status == "SENT":
            self.sent += 1
        elif outcome.status == "FAILED":
            self.failed += 1
        else:
            self.retrying += 1


@dataclass
class ChannelState:
    """What the probes report about one channel's transport."""

    transport: str
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_failure_class: str | None = None
    last_error: str | None = None
    paused_until: float = 0.0  # time.monotonic()

    def paused_for(self) -> float:
        """Seconds left in the pause, 0 when not paused."""
        return max(0.0, self.paused_until - time.monotonic())


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter for the retry after `attempts` attempts."""
    return random.uniform(0, min(cap, base * 2 ** max(0, attempts - 1)))


def _delivery(row: Mapping[str, Any]) -> Delivery:
    return Delivery(
        id=row["id"],
        claim_token=row["claim_token"],
        channel=Channel(row["method"]),
        recipient=row["recipient"],
        attempts=row["attempts"],
        event_created_at=row["event_created_at"],
        invoice=InvoiceView(
            invoice_id=str(row["invoice_id"]),
            invoice_number=row["invoice_number"],
            vendor_name=row["vendor_name"],
            total_amount=row["total_amount"],
            currency=row["currency"],
        ),
    )


def _to_send(rows: list[dict[str, Any]], report: DrainReport) -> list[Delivery]:
    """The claimed rows to send; rows claimed straight into SKIPPED or FAILED are counted."""
    deliveries = []
    for row in rows:
        status = row["status"]
        if status == "SENDING":
            deliveries.append(_delivery(row))
        elif status in ("SKIPPED", "FAILED"):
            report.skipped += status == "SKIPPED"
            report.failed += status == "FAILED"
            metrics.DELIVERIES.labels(row["method"], status.lower()).inc()
    return deliveries


class Dispatcher:
    """Drains the outbox and the due deliveries, sending with bounded concurrency."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        settings: Settings,
        transports: Mapping[Channel, Transport],
        renderer: MessageRenderer,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._transports = transports
        self._renderer = renderer
        recipients = settings.recipients.recipients
        self._methods = [r.channel.value for r in recipients]
        self._addresses = [r.address for r in recipients]
        self._concurrency = settings.send_concurrency
        self._max_claimed = 2 * self._concurrency  # claim one round ahead of the senders
        self._queue: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._claimed = 0  # claimed by this process, outcome not yet committed (loop thread)
        self._room = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        # Filled by worker threads, emptied by the flusher on the loop thread.
        self._lock = threading.Lock()
        self._outcomes: list[tuple[Outcome, threading.Event]] = []
        self._releases: list[Delivery] = []
        self._flush_requested = False
        self._flusher: asyncio.Task[None] | None = None
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
        self.channels = {c: ChannelState(t.name) for c, t in transports.items()}

    # -- the loop --------------------------------------------------------------

    async def run(self) -> None:
        """Drain on every wake-up and whenever a retry or lease falls due, until stopped."""
        failures = 0
        timed_out = True
        while not self._stopping:
            self.wake.clear()
            self._pass_started = time.monotonic()
            try:
                await self.drain()
                if timed_out or self._due_changed:
                    # Only when something may have changed: a NOTIFY wake-up costs one
                    # statement, not three.
                    self._due_changed = False
                    self._next_due_at = time.monotonic() + await self._seconds_until_due()
                delay = max(0.01, self._next_due_at - time.monotonic())
                failures = 0
            except Exception as error:
                failures += 1
                delay = min(30.0, 0.2 * 2**failures) * random.uniform(0.5, 1.0)
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
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=delay)
                timed_out = False
            except TimeoutError:
                timed_out = True

    async def drain(self, report: DrainReport | None = None) -> DrainReport:
        """Claim everything that is ready and queue it for the senders; don't wait for sends."""
        report = report or DrainReport()
        self._report = report
        self._start_workers()
        outbox_empty = False
        due_done = time.monotonic() < self._next_due_at and not self._due_changed
        while not self._stopping:
            room = self._max_claimed - self._claimed
            if room < self._concurrency:
                # Refill in batches of at least SEND_CONCURRENCY rows, not one row per
                # finished send: a claim statement per row would cost more than the send.
                self._room.clear()
                await self._room.wait()
                continue
            if self.wake.is_set():  # new outbox rows during a long drain go first
                self.wake.clear()
                outbox_empty = False
            if not outbox_empty:
                deliveries, outbox_empty = await self._claim_events(room, report)
                due_done = due_done and not self._due_changed
            elif not due_done:
                deliveries, due_done = await self._claim_due(room, report)
            else:
                break
            report.claimed += len(deliveries)
            self._claimed += len(deliveries)
            if self._claimed:
                self._idle.clear()
            # SMS first: a Twilio call costs about a third of the CPU of a SendGrid call,
            # and the senders share one interpreter lock, so the first recipient of a
            # fresh invoice hears sooner this way.
            deliveries.sort(key=lambda d: d.channel is not Channel.SMS)
            for delivery in deliveries:
                self._queue.put(delivery)
        return report

    async def drain_until_idle(self) -> DrainReport:
        """Drain, wait for every send and write every outcome (one-shot use: CLI, tests)."""
        report = await self.drain()
        await self.wait_idle()
        return report

    async def wait_idle(self) -> None:
        """Wait until every claimed delivery's outcome is committed."""
        await self._idle.wait()

    def _start_workers(self) -> None:
        if self._workers:
            return
        self._loop = asyncio.get_running_loop()
        for number in range(self._concurrency):
            worker = threading.Thread(target=self._work, name=f"send-{number}", daemon=True)
            worker.start()
            self._workers.append(worker)

    # -- claiming --------------------------------------------------------------

    async def _claim_events(self, room: int, report: DrainReport) -> tuple[list[Delivery], bool]:
        """Take outbox rows and expand them; also says whether the outbox is now empty."""
        limit = self._settings.claim_batch_size
        params = {
            "limit": limit,
            "claim_episodes": max(1, room // max(1, len(self._addresses))),
            "methods": self._methods,
            "recipients": self._addresses,
            "lease_seconds": self._settings.lease_seconds,
            "paused": self._paused_channels(),
        }
        rows = await self._fetch(sql("queries/take_events"), params)
        taken = rows[0]["taken_events"]
        report.events += taken
        if rows[0]["left_pending"]:
            # The overflow waits as due rows: tell every replica, this one included.
            self._due_changed = True
            await self._fetch(sql("queries/announce_due"), {})
        return _to_send(rows, report), taken < limit

    async def _claim_due(self, room: int, report: DrainReport) -> tuple[list[Delivery], bool]:
        """Claim due retries and expired leases; also says whether none are left."""
        limit = min(self._settings.claim_batch_size, room)
        params = {
            "limit": limit,
            "lease_seconds": self._settings.lease_seconds,
            "max_attempts": self._settings.max_attempts,
            "paused": self._paused_channels(),
        }
        rows = await self._fetch(sql("queries/claim_due"), params)
        self._due_changed = True
        return _to_send(rows, report), len(rows) < limit

    def due_now(self) -> None:
        """Another process says deliveries are due: look at once (NOTIFY on the due channel)."""
        self._due_changed = True
        self.wake.set()

    def _paused_channels(self) -> list[str]:
        return [c.value for c, state in self.channels.items() if state.paused_for() > 0]

    async def _fetch(self, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(query, params)
            rows = await cursor.fetchall() if cursor.description else []
        self._last_progress = time.monotonic()
        return rows

    async def _seconds_until_due(self) -> float:
        """Until the next row this process may claim falls due, or a pause ends.

        Rows of a paused channel are not counted: they are due, but this process
        will not claim them before the pause ends, and waking for them would spin.
        """
        rows = await self._fetch(sql("queries/next_due"), {"paused": self._paused_channels()})
        wait = self._idle_recheck
        pauses = [p for state in self.channels.values() if (p := state.paused_for()) > 0]
        if pauses:
            wait = min(wait, min(pauses))
        next_due = rows[0]["next_due"]
        if next_due is not None:
            wait = min(wait, (next_due - datetime.now(UTC)).total_seconds())
        return max(0.01, wait)

    def stalled_for(self) -> float:
        """Seconds the current pass has gone without progress (0 between passes)."""
        if self._pass_started is None:
            return 0.0
        return time.monotonic() - max(self._pass_started, self._last_progress)

    # -- sending ---------------------------------------------------------------

    def _work(self) -> None:
        """A sender thread: take a delivery, send it, wait until its outcome is committed."""
        for transport in self._transports.values():
            transport.prepare_thread()
        while (delivery := self._queue.get()) is not None:
            if self._stopping:  # claimed before the stop: give it back unsent
                self._hand_back(release=delivery)
                continue
            try:
                outcome = self._outcome_of(delivery)
            except Exception as error:  # never let a bug kill the thread and leak its slot
                log.exception("unexpected error in a sender", delivery_id=delivery.id)
                outcome = self._failed(delivery, SendError(FailureClass.TRANSIENT, repr(error)))
            recorded = threading.Event()
            self._hand_back(outcome=(outcome, recorded))
            recorded.wait()

    def _outcome_of(self, delivery: Delivery) -> Outcome:
        """Send one delivery, unless its channel was paused while it waited."""
        state = self.channels[delivery.channel]
        if state.paused_for() > 0:
            # Paused while this row waited: give it back untouched. After a rate limit
            # it is due when the pause ends; after refused credentials it is due at
            # once, for a process whose credentials work (this one skips the channel).
            refused = state.last_failure_class == FailureClass.AUTH.value
            return Outcome(
                delivery.id,
                delivery.claim_token,
                "PENDING",
                error=state.last_error,
                retry_in=0.0 if refused else state.paused_for(),
                refund=1,
            )
        return self._send(delivery)

    def _hand_back(
        self,
        outcome: tuple[Outcome, threading.Event] | None = None,
        release: Delivery | None = None,
    ) -> None:
        """From a worker thread: queue an outcome (or a release) for the flusher."""
        with self._lock:
            if outcome is not None:
                self._outcomes.append(outcome)
            if release is not None:
                self._releases.append(release)
            wake_flusher = not self._flush_requested
            self._flush_requested = True
        if wake_flusher:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._schedule_flush)

    def _send(self, delivery: Delivery) -> Outcome:
        """Render and send one delivery (runs on a worker thread)."""
        transport = self._transports[delivery.channel]
        channel = delivery.channel.value
        started = time.perf_counter()
        try:
            if delivery.channel is Channel.EMAIL:
                message: Any = self._renderer.email(delivery.invoice)
            else:
                message = self._renderer.sms(delivery.invoice)
            with structlog.contextvars.bound_contextvars(
                invoice_id=delivery.invoice.invoice_id, channel=channel, delivery_id=delivery.id
            ):
                message_id = transport.send(delivery.recipient, message)
        except SendError as error:
            metrics.SEND_ATTEMPTS.labels(channel, error.failure.value).inc()
            return self._failed(delivery, error)
        except Exception as error:  # a bug (rendering, a transport) must not lose the row
            log.exception("unexpected error while rendering or sending", delivery_id=delivery.id)
            metrics.SEND_ATTEMPTS.labels(channel, FailureClass.TRANSIENT.value).inc()
            return self._failed(delivery, SendError(FailureClass.TRANSIENT, repr(error)))
        finally:
            metrics.PROVIDER_CALL.labels(channel, transport.name).observe(
                time.perf_counter() - started
            )
        now = datetime.now(UTC)
        metrics.SEND_ATTEMPTS.labels(channel, "ok").inc()
        metrics.DELIVERIES.labels(channel, "sent").inc()
        if delivery.event_created_at is not None:
            latency = (now - delivery.event_created_at).total_seconds()
            metrics.EVENT_TO_ACCEPTED.labels(channel).observe(max(0.0, latency))
        self.channels[delivery.channel].last_success_at = now
        log.debug(
            "sent",
            delivery_id=delivery.id,
            invoice_id=delivery.invoice.invoice_id,
            channel=channel,
            message_id=message_id,
        )
        return Outcome(delivery.id, delivery.claim_token, "SENT", message_id=message_id)

    def _failed(self, delivery: Delivery, error: SendError) -> Outcome:
        """Decide a failed delivery's fate from its failure class and attempts."""
        settings = self._settings
        state = self.channels[delivery.channel]
        # Provider texts quote addresses and numbers: masked before they are stored,
        # printed or served (which also makes identical failures group together).
        masked = mask_text(error.message)
        state.last_failure_at = datetime.now(UTC)
        state.last_failure_class = error.failure.value
        state.last_error = masked  # shown by /health/status
        token = delivery.claim_token
        channel = delivery.channel.value
        context = {
            "delivery_id": delivery.id,
            "invoice_id": delivery.invoice.invoice_id,
            "channel": channel,
            "failure_class": error.failure.value,
        }
        if error.failure is FailureClass.AUTH:
            state.paused_until = time.monotonic() + AUTH_PAUSE_SECONDS
            log.error(
                "provider refused our credentials; channel paused",
                error=error.message,
                pause_seconds=AUTH_PAUSE_SECONDS,
                **context,
            )
            # Due at once for a process with working credentials; this one skips the
            # channel until its pause ends, so no attempt is burnt.
            return Outcome(delivery.id, token, "PENDING", error=masked, refund=1)
        if error.failure is FailureClass.TRANSIENT and error.retry_after is not None:
            state.paused_until = max(state.paused_until, time.monotonic() + error.retry_after)
            log.warning(
                "rate limited; channel paused",
                error=error.message,
                pause_seconds=error.retry_after,
                **context,
            )
            metrics.DELIVERIES.labels(channel, "retry").inc()
            return Outcome(
                delivery.id, token, "PENDING", error=masked, retry_in=error.retry_after, refund=1
            )
        if error.failure is FailureClass.PERMANENT or delivery.attempts >= settings.max_attempts:
            log.warning(
                "delivery failed", error=error.message, attempts=delivery.attempts, **context
            )
            metrics.DELIVERIES.labels(channel, "failed").inc()
            return Outcome(delivery.id, token, "FAILED", error=masked)
        retry_in = backoff_seconds(
            delivery.attempts, settings.retry_base_seconds, settings.retry_cap_seconds
        )
        log.info(
            "delivery will be retried",
            error=error.message,
            attempts=delivery.attempts,
            retry_in=round(retry_in, 1),
            **context,
        )
        metrics.DELIVERIES.labels(channel, "retry").inc()
        return Outcome(delivery.id, token, "PENDING", error=masked, retry_in=retry_in)

    # -- recording -------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        """Write handed-back outcomes until none are left; a dead database is waited out."""
        retrying = AsyncRetrying(
            # Never give up: these rows were sent, and forgetting that would resend them.
            retry=retry_if_exception_type(Exception),
            wait=wait_random_exponential(multiplier=0.1, max=5.0),
            before_sleep=lambda state: log.warning(
                "could not record outcomes; retrying",
                error=repr(state.outcome.exception()) if state.outcome else None,
            ),
        )
        while True:
            with self._lock:
                batch, self._outcomes = self._outcomes, []
                releases, self._releases = self._releases, []
                if not batch and not releases:
                    self._flush_requested = False
                    return
            outcomes = [outcome for outcome, _ in batch]
            async for attempt in retrying:
                with attempt:
                    await self._write(outcomes, releases)
            for outcome, recorded in batch:
                self._report.add(outcome)
                recorded.set()
            self._claimed -= len(batch) + len(releases)
            if self._max_claimed - self._claimed >= self._concurrency:
                self._room.set()
            if self._claimed == 0:
                self._idle.set()
            if any(o.status == "PENDING" for o in outcomes):
                self._due_changed = True  # a retry was scheduled: re-read when it falls due
                self.wake.set()

    async def _write(self, outcomes: list[Outcome], releases: list[Delivery]) -> None:
        """Record outcomes and releases; a batch the database refuses goes row by row."""
        if outcomes:
            try:
                await self._record(outcomes)
            except REJECTED_ERRORS as error:
                log.warning(
                    "database refused a batch of outcomes; recording them one by one",
                    error=type(error).__name__,
                    count=len(outcomes),
                )
                for outcome in outcomes:
                    await self._record_alone(outcome)
        if releases:
            async with self._pool.connection() as conn:
                await conn.execute(
                    sql("queries/release_claims"),
                    {
                        "ids": [d.id for d in releases],
                        "tokens": [d.claim_token for d in releases],
                    },
                )
        self._last_progress = time.monotonic()

    async def _record(self, outcomes: list[Outcome]) -> None:
        """One statement for the batch; only the claim that leased a row may write it."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                sql("queries/record_outcomes"),
                {
                    "ids": [o.delivery_id for o in outcomes],
                    "tokens": [o.claim_token for o in outcomes],
                    "statuses": [o.status for o in outcomes],
                    "message_ids": [o.message_id for o in outcomes],
                    "errors": [o.error for o in outcomes],
                    "retry_in": [o.retry_in for o in outcomes],
                    "refunds": [o.refund for o in outcomes],
                },
            )
            fenced = len(outcomes) - cursor.rowcount
        if fenced:
            log.warning(
                "outcomes not recorded: their lease had expired and another claim owns the rows",
                count=fenced,
            )

    async def _record_alone(self, outcome: Outcome) -> None:
        """Record one outcome; if the database refuses it, the row is FAILED with why."""
        try:
            await self._record([outcome])
        except REJECTED_ERRORS as error:
            reason = (
                f"the database refused this delivery's outcome "
                f"({outcome.status}, {type(error).__name__})"
            )
            log.error(reason, delivery_id=outcome.delivery_id, outcome=outcome.status)
            await self._record(
                [Outcome(outcome.delivery_id, outcome.claim_token, "FAILED", error=reason)]
            )

    # -- stopping --------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop claiming; the run loop ends after its current statement."""
        self._stopping = True
        self.wake.set()
        self._room.set()

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
        unsent = []
        with contextlib.suppress(queue.Empty):
            while True:
                delivery = self._queue.get_nowait()
                if delivery is not None:
                    unsent.append(delivery)
        if unsent:
            with self._lock:
                self._releases.extend(unsent)
            self._schedule_flush()
        try:
            if not self._idle.is_set():
                await asyncio.wait_for(self._idle.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            log.warning(
                "sends still running or unrecorded after the grace period; their "
                "leases will expire and another process will retry them",
                count=self._claimed,
            )
        for _ in self._workers:
            self._queue.put(None)
