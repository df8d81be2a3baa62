"""Sender tasks: the hand-off from the dispatcher, in-flight accounting and a graceful stop.

Claimed deliveries go on a queue served by SEND_CONCURRENCY tasks on the event
loop (the transports are asynchronous). Outcomes are written back in batches. A
task takes its next delivery only once its last outcome is committed, so at most
SEND_CONCURRENCY rows are ever sent but not yet recorded: that bounds the
duplicates a crash can cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, wait_random_exponential

from reactor.domain.deliveries import Delivery, Outcome
from reactor.domain.enums import Channel
from reactor.pipeline.attempts import Attempts
from reactor.pipeline.recorder import Recorder

log = structlog.get_logger("reactor.senders")


class Senders:
    """A pool of sender tasks with bounded claims in flight."""

    def __init__(
        self,
        attempts: Attempts,
        recorder: Recorder,
        concurrency: int,
    ) -> None:
        self._attempts = attempts
        self._recorder = recorder
        # Told of every committed batch (outcomes, or releases only): the dispatcher's.
        self.on_recorded: Callable[[list[Outcome]], None] = lambda outcomes: None
        self.concurrency = concurrency
        self._max_claimed = 2 * concurrency  # claim one round ahead of the senders
        self._queue: asyncio.Queue[Delivery | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.claimed = 0  # claimed by this process, outcome not yet committed
        self._room = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        # Filled by the sender tasks, emptied by the flusher.
        self._outcomes: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._releases: list[Delivery] = []
        self._flusher: asyncio.Task[None] | None = None

    # -- the dispatcher's side -------------------------------------------------

    def room(self) -> int:
        """How many more rows this process may claim now."""
        return self._max_claimed - self.claimed

    async def wait_for_room(self) -> None:
        """Wait until a whole round (SEND_CONCURRENCY rows) may be claimed again.

        Refills come in batches, not one row per finished send: a claim statement
        per row would cost more than the send.
        """
        self._room.clear()
        await self._room.wait()

    def submit(self, deliveries: Sequence[Delivery]) -> None:
        """Queue claimed deliveries for the sender tasks (starting them the first time)."""
        self._start()
        self.claimed += len(deliveries)
        if self.claimed:
            self._idle.clear()
        # SMS first: a Twilio call costs less CPU than a SendGrid call, so the first
        # recipient of a fresh invoice hears sooner this way.
        for delivery in sorted(deliveries, key=lambda d: d.channel is not Channel.SMS):
            self._queue.put_nowait(delivery)

    async def wait_idle(self) -> None:
        """Wait until every claimed delivery's outcome is committed."""
        await self._idle.wait()

    def _start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._work(), name=f"send-{number}")
            for number in range(self.concurrency)
        ]

    # -- the sender tasks ------------------------------------------------------

    async def _work(self) -> None:
        """A sender: take a delivery, send it, wait until its outcome is committed."""
        loop = asyncio.get_running_loop()
        while (delivery := await self._queue.get()) is not None:
            if self._stopping:  # claimed before the stop: give it back unsent
                self._releases.append(delivery)
                self._schedule_flush()
                continue
            outcome = await self._attempts.make(delivery)
            recorded = loop.create_future()
            self._outcomes.append((outcome, recorded))
            self._schedule_flush()
            await recorded

    # -- recording -------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="record-outcomes")

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
        # Let every send that finishes in this turn of the loop join the batch.
        await asyncio.sleep(0)
        while self._outcomes or self._releases:
            batch, self._outcomes = self._outcomes, []
            releases, self._releases = self._releases, []
            outcomes = [outcome for outcome, _ in batch]
            async for attempt in retrying:
                with attempt:
                    await self._recorder.write(outcomes, releases)
            self.on_recorded(outcomes)
            for _, recorded in batch:
                recorded.set_result(None)
            self.claimed -= len(batch) + len(releases)
            if self.room() >= self.concurrency:
                self._room.set()
            if self.claimed == 0:
                self._idle.set()

    # -- stopping --------------------------------------------------------------

    def stop_claiming(self) -> None:
        """From now on the sender tasks give back what they take instead of sending it."""
        self._stopping = True
        self._room.set()

    async def stop(self, deadline: float) -> None:
        """Give back the queued rows, wait for sends in flight until `deadline`, end the tasks.

        A send still running after the deadline keeps its lease, which expires so
        that another process retries it.
        """
        self.stop_claiming()
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                delivery = self._queue.get_nowait()
                if delivery is not None:
                    self._releases.append(delivery)
        if self._releases:
            self._schedule_flush()
        try:
            if not self._idle.is_set():
                await asyncio.wait_for(self._idle.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            log.warning(
                "sends still running or unrecorded after the grace period; their "
                "leases will expire and another process will retry them",
                count=self.claimed,
            )
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._attempts.close()
