"""Claim, send, record: the one path every delivery follows.

A drain claims work in two ways, both with FOR UPDATE SKIP LOCKED so replicas never
share a row: new outbox events (expanded into deliveries and claimed in the same
statement), then deliveries that are due (retries, expired leases). Each claimed
delivery is sent on a worker thread (the SDKs are blocking) with bounded
concurrency, and outcomes are written back in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from reactor import metrics
from reactor.config import Settings
from reactor.masking import mask_text
from reactor.messages import InvoiceView, MessageRenderer
from reactor.recipients import Channel
from reactor.resources import sql
from reactor.transports import FailureClass, SendError, Transport

log = structlog.get_logger("reactor.dispatch")

DATABASE_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)
AUTH_PAUSE_SECONDS = 60.0
IDLE_RECHECK_SECONDS = 60.0


@dataclass(frozen=True)
class Delivery:
    """One claimed notification: a message for one recipient on one channel."""

    id: int
    channel: Channel
    recipient: str
    attempts: int
    invoice: InvoiceView
    event_created_at: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery; `status` is the row's next status."""

    delivery_id: int
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
        self._executor = ThreadPoolExecutor(self._concurrency, thread_name_prefix="send")
        self._send_slots = asyncio.Semaphore(self._concurrency)
        self._max_claimed = 2 * self._concurrency  # claim one round ahead of the senders
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: dict[asyncio.Task[None], int] = {}
        self._room = asyncio.Event()
        self._outcomes: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._releases: list[int] = []
        self._flusher: asyncio.Task[None] | None = None
        self._stopping = False
        self.wake = asyncio.Event()
        self.channels = {c: ChannelState(t.name) for c, t in transports.items()}
        self.last_report = DrainReport()

    # -- the loop --------------------------------------------------------------

    async def run(self) -> None:
        """Drain on every wake-up and whenever a retry or lease falls due, until stopped."""
        failures = 0
        while not self._stopping:
            self.wake.clear()
            try:
                await self.drain()
                delay = await self._seconds_until_due()
                failures = 0
            except Exception as error:
                failures += 1
                delay = min(30.0, 0.2 * 2**failures) * random.uniform(0.5, 1.0)
                if isinstance(error, DATABASE_ERRORS):
                    log.warning(
                        "database unavailable; dispatcher retries",
                        error=str(error),
                        retry_in=round(delay, 2),
                    )
                else:
                    log.exception("dispatcher pass failed; retrying", retry_in=round(delay, 2))
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=delay)

    async def drain(self, report: DrainReport | None = None) -> DrainReport:
        """Claim and start sending everything that is ready; return without waiting for sends."""
        report = report or DrainReport()
        self.last_report = report
        while not self._stopping:
            room = self._max_claimed - len(self._tasks)
            if room <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            deliveries = await self._claim_events(room, report)
            if deliveries is None:
                deliveries = await self._claim_due(room, report)
                if not deliveries:
                    break
            report.claimed += len(deliveries)
            for delivery in deliveries:
                task = asyncio.create_task(self._deliver(delivery, report))
                self._tasks.add(task)
                task.add_done_callback(self._task_done)
        return report

    async def drain_until_idle(self) -> DrainReport:
        """Drain, wait for every send and write every outcome (one-shot use: CLI, tests)."""
        report = await self.drain()
        await self.wait_idle()
        return report

    async def wait_idle(self) -> None:
        """Wait until no send is in flight and every outcome is written."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        while self._flusher is not None and not self._flusher.done():
            await self._flusher

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task crashed", exc_info=task.exception())

    # -- claiming --------------------------------------------------------------

    async def _claim_events(self, room: int, report: DrainReport) -> list[Delivery] | None:
        """Expand unprocessed outbox events; None when the outbox is empty."""
        per_event = max(1, len(self._addresses))
        limit = max(1, min(self._settings.claim_batch_size, room // per_event))
        params = {
            "limit": limit,
            "methods": self._methods,
            "recipients": self._addresses,
            "lease_seconds": self._settings.lease_seconds,
            "paused": self._paused_channels(),
        }
        rows = await self._fetch(sql("queries/expand_events"), params)
        if rows[0]["claimed_events"] == 0:
            return None
        report.events += rows[0]["claimed_events"]
        return _to_send(rows, report)

    async def _claim_due(self, room: int, report: DrainReport) -> list[Delivery]:
        params = {
            "limit": min(self._settings.claim_batch_size, room),
            "lease_seconds": self._settings.lease_seconds,
            "max_attempts": self._settings.max_attempts,
            "paused": self._paused_channels(),
        }
        return _to_send(await self._fetch(sql("queries/claim_due"), params), report)

    def _paused_channels(self) -> list[str]:
        return [c.value for c, state in self.channels.items() if state.paused_for() > 0]

    async def _fetch(self, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(query, params, prepare=True)
            return await cursor.fetchall()

    async def _seconds_until_due(self) -> float:
        rows = await self._fetch(sql("queries/next_due"), {})
        next_due = rows[0]["next_due"]
        if next_due is None:
            return IDLE_RECHECK_SECONDS
        seconds = (next_due - datetime.now(UTC)).total_seconds()
        return min(IDLE_RECHECK_SECONDS, max(0.01, seconds))

    # -- sending ---------------------------------------------------------------

    async def _deliver(self, delivery: Delivery, report: DrainReport) -> None:
        if self._stopping:  # claimed by the last statement before the stop: give it back
            self._releases.append(delivery.id)
            self._schedule_flush()
            return
        task = asyncio.current_task()
        assert task is not None
        self._waiting[task] = delivery.id  # claimed, not yet sending: released on stop
        async with self._send_slots:
            del self._waiting[task]
            state = self.channels[delivery.channel]
            if state.paused_for() > 0:
                # Paused while this row waited: give it back untouched, due when the pause ends.
                outcome = Outcome(
                    delivery.id,
                    "PENDING",
                    error=state.last_error,
                    retry_in=state.paused_for(),
                    refund=1,
                )
            else:
                loop = asyncio.get_running_loop()
                outcome = await loop.run_in_executor(self._executor, self._send, delivery)
            report.add(outcome)
            # The slot is held until the outcome is committed: at any moment at most
            # SEND_CONCURRENCY rows are sent-but-unrecorded, which bounds the duplicates
            # a crash can cause.
            recorded = asyncio.get_running_loop().create_future()
            self._outcomes.append((outcome, recorded))
            self._schedule_flush()
            await recorded

    def _send(self, delivery: Delivery) -> Outcome:
        """Render and send one delivery (runs on a worker thread)."""
        transport = self._transports[delivery.channel]
        channel = delivery.channel.value
        if delivery.channel is Channel.EMAIL:
            message: Any = self._renderer.email(delivery.invoice)
        else:
            message = self._renderer.sms(delivery.invoice)
        started = time.perf_counter()
        try:
            with structlog.contextvars.bound_contextvars(
                invoice_id=delivery.invoice.invoice_id, channel=channel, delivery_id=delivery.id
            ):
                message_id = transport.send(delivery.recipient, message)
        except SendError as error:
            metrics.SEND_ATTEMPTS.labels(channel, error.failure.value).inc()
            return self._failed(delivery, error)
        except Exception as error:  # a bug must not lose the row: retry it later
            log.exception("unexpected error while sending", delivery_id=delivery.id)
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
        return Outcome(delivery.id, "SENT", message_id=message_id)

    def _failed(self, delivery: Delivery, error: SendError) -> Outcome:
        """Decide a failed delivery's fate from its failure class and attempts."""
        settings = self._settings
        state = self.channels[delivery.channel]
        state.last_failure_at = datetime.now(UTC)
        state.last_failure_class = error.failure.value
        state.last_error = mask_text(error.message)  # shown by /health/status
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
            return Outcome(delivery.id, "PENDING", error=error.message, refund=1)
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
                delivery.id, "PENDING", error=error.message, retry_in=error.retry_after, refund=1
            )
        if error.failure is FailureClass.PERMANENT or delivery.attempts >= settings.max_attempts:
            log.warning(
                "delivery failed", error=error.message, attempts=delivery.attempts, **context
            )
            metrics.DELIVERIES.labels(channel, "failed").inc()
            return Outcome(delivery.id, "FAILED", error=error.message)
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
        return Outcome(delivery.id, "PENDING", error=error.message, retry_in=retry_in)

    # -- recording -------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        """Write buffered outcomes until none are left; a dead database is waited out."""
        retrying = AsyncRetrying(
            # Never give up: these rows were sent, and forgetting that would resend them.
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential_jitter(initial=0.1, max=5.0),
            before_sleep=lambda state: log.warning(
                "could not record outcomes; retrying",
                error=repr(state.outcome.exception()) if state.outcome else None,
            ),
        )
        while self._outcomes or self._releases:
            batch, self._outcomes = self._outcomes, []
            releases, self._releases = self._releases, []
            outcomes = [outcome for outcome, _ in batch]
            async for attempt in retrying:
                with attempt:
                    await self._write(outcomes, releases)
            for _, recorded in batch:
                if not recorded.done():
                    recorded.set_result(None)
            if any(o.status == "PENDING" for o in outcomes):
                self.wake.set()  # a retry was scheduled: let the loop re-read when it falls due

    async def _write(self, outcomes: list[Outcome], releases: list[int]) -> None:
        async with self._pool.connection() as conn:
            if outcomes:
                await conn.execute(
                    sql("queries/record_outcomes"),
                    {
                        "ids": [o.delivery_id for o in outcomes],
                        "statuses": [o.status for o in outcomes],
                        "message_ids": [o.message_id for o in outcomes],
                        "errors": [o.error for o in outcomes],
                        "retry_in": [o.retry_in for o in outcomes],
                        "refunds": [o.refund for o in outcomes],
                    },
                    prepare=True,
                )
            if releases:
                await conn.execute(sql("queries/release_claims"), {"ids": releases})

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
        for task, delivery_id in list(self._waiting.items()):
            task.cancel()
            self._releases.append(delivery_id)
        self._waiting.clear()
        sending = list(self._tasks)
        if sending:
            _, still_running = await asyncio.wait(
                sending, timeout=max(0.0, deadline - time.monotonic())
            )
            if still_running:
                log.warning(
                    "sends still running after the grace period; their leases will "
                    "expire and another process will retry them",
                    count=len(still_running),
                )
        self._schedule_flush()
        assert self._flusher is not None
        try:
            await asyncio.wait_for(
                asyncio.shield(self._flusher), timeout=max(2.0, deadline - time.monotonic())
            )
        except TimeoutError:
            log.error(
                "could not record all outcomes before exit",
                outcomes=len(self._outcomes),
                releases=len(self._releases),
            )
        self._executor.shutdown(wait=False, cancel_futures=True)
