"""The wake-up lock: an idle reactor asks the trigger for a NOTIFY; a busy one does not.

Every NOTIFY takes a cluster-wide lock held through its commit's WAL flush, so on a
busy upstream notifying commits queue behind each other. The trigger therefore sends
one only when a reactor holds (or waits for) the wake-up lock, a session advisory
lock in exclusive mode (sql/schema/0009_row_trigger_up.sql). A reactor takes it
just before it sleeps and then reads the outbox once more: taking it waits for the
writers that skipped their NOTIFY (they hold the lock shared until they commit), so
that last read sees their rows. A busy reactor gives it back and reads the outbox
every OUTBOX_POLL_MILLISECONDS instead; after a stream of invoices it keeps polling
through a short lull before it takes the lock again (`asks_for_notify`), because
while it waits for the lock every committing writer sends a NOTIFY.

The lock lives on a direct connection of its own (the LISTEN connection is busy
waiting for notifications); losing that connection loses the lock, which is safe
only if noticed: `still_armed` checks it while the reactor sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum

import psycopg
import structlog

from reactor.db.connections import conninfo
from reactor.domain.decisions import asks_for_notify
from reactor.support.aio import bounded
from reactor.support.resources import sql

log = structlog.get_logger("reactor.doorbell")

WAKE_UP_LOCK = 7_355_608_001  # the trigger's key (sql/schema/0009_row_trigger_up.sql)
ARM_WAIT_MS = 200  # longest wait for in-flight writers before polling instead
# Another replica holds the wake-up lock: its NOTIFYs reach this one too; look again
# this often, in case it died with the lock.
ELSEWHERE_RECHECK_SECONDS = 1.0


class Arming(enum.Enum):
    """What asking for the wake-up lock gave."""

    ARMED = "armed"  # this process holds it: the next writer sends a NOTIFY
    ELSEWHERE = "elsewhere"  # another reactor holds it: its NOTIFYs reach us too
    NOT_NOW = "not now"  # writers in long transactions hold it, or no connection: poll


class Doorbell:
    """Holds or gives back the wake-up lock, on a direct connection of its own."""

    def __init__(self, database_url: str, timeout: float = 30.0) -> None:
        self._conninfo = conninfo(
            database_url,
            "invoice-reactor doorbell",
            options=f"-c lock_timeout={ARM_WAIT_MS}",
        )
        self._timeout = timeout
        self._connection: psycopg.AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self.armed = False

    async def arm(self) -> Arming:
        """Take the wake-up lock (waiting at most ARM_WAIT_MS for in-flight writers)."""
        async with self._lock:
            if self.armed:
                return Arming.ARMED
            try:
                connection = await self._connect()
                try:
                    await bounded(connection.execute(sql("queries/doorbell_arm")), self._timeout)
                except psycopg.errors.LockNotAvailable:
                    cursor = await connection.execute(sql("queries/doorbell_elsewhere"))
                    row = await cursor.fetchone()
                    return Arming.ELSEWHERE if row and row[0] else Arming.NOT_NOW
            except (psycopg.Error, OSError, TimeoutError) as error:
                await self._lost(error)
                return Arming.NOT_NOW
            self.armed = True
            return Arming.ARMED

    async def disarm(self) -> None:
        """Give the wake-up lock back: writers stop sending NOTIFYs."""
        async with self._lock:
            if not self.armed or self._connection is None:
                self.armed = False
                return
            self.armed = False
            try:
                await bounded(self._connection.execute(sql("queries/doorbell_disarm")), 5.0)
            except (psycopg.Error, OSError, TimeoutError) as error:
                await self._lost(error)  # the session, and the lock with it, is gone

    async def still_armed(self) -> bool:
        """Whether the lock is still ours (its connection answers); False resets it."""
        async with self._lock:
            if not self.armed or self._connection is None:
                return False
            try:
                await bounded(self._connection.execute(sql("queries/ping")), 5.0)
            except (psycopg.Error, OSError, TimeoutError) as error:
                await self._lost(error)
                return False
            return True

    async def close(self) -> None:
        """Close the connection (the lock goes with the session)."""
        async with self._lock:
            self.armed = False
            if self._connection is not None:
                with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                    await bounded(self._connection.close(), 1.0)
                self._connection = None

    async def _connect(self) -> psycopg.AsyncConnection:
        if self._connection is None or self._connection.closed:
            self._connection = await bounded(
                psycopg.AsyncConnection.connect(self._conninfo, autocommit=True), self._timeout
            )
        return self._connection

    async def _lost(self, error: BaseException) -> None:
        self.armed = False
        log.warning(
            "doorbell connection lost; polling until it is back", error=type(error).__name__
        )
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                await bounded(self._connection.close(), 1.0)
        self._connection = None


class Pacer:
    """When a dispatcher holds the wake-up lock, and how long it sleeps between passes."""

    def __init__(self, doorbell: Doorbell, poll_seconds: float, check_seconds: float) -> None:
        self.doorbell = doorbell
        self._poll = poll_seconds  # OUTBOX_POLL_MILLISECONDS
        self._check = check_seconds  # how often a held lock's connection is checked
        self._busy_passes = 0  # in a row, before the current lull
        self._empty_passes = 0  # since the last busy one

    async def after_pass(self, busy: bool, delay: float, wake: asyncio.Event) -> float:
        """The sleep after a pass that found outbox rows (`busy`) or not; at most `delay`.

        Busy: give the lock back (writers stop sending NOTIFYs) and read the outbox
        again soon. Idle: once `asks_for_notify` says so, take the lock, then read the
        outbox once more at once (by setting `wake`), for rows committed without a
        NOTIFY while it was not held; until then, keep polling.
        """
        bell = self.doorbell
        if busy:
            self._busy_passes = 1 if self._empty_passes else self._busy_passes + 1
            self._empty_passes = 0
            await bell.disarm()
            return min(delay, self._poll)
        self._empty_passes += 1
        if bell.armed:
            return delay
        if not asks_for_notify(self._busy_passes, self._empty_passes):
            return min(delay, self._poll)
        arming = await bell.arm()
        if arming is Arming.ARMED:
            wake.set()
            return delay
        if arming is Arming.ELSEWHERE:
            return min(delay, ELSEWHERE_RECHECK_SECONDS)
        return min(delay, self._poll * 5)

    async def working(self) -> None:
        """A pass found outbox rows: give the lock back now, not when the pass ends.

        While the lock is held every writer sends a NOTIFY, and each NOTIFY wakes the
        pass again: a pass that kept it would run on for as long as the writers do,
        with their commits in single file.
        """
        if self.doorbell.armed:
            await self.doorbell.disarm()

    async def sleep(self, wake: asyncio.Event, delay: float) -> bool:
        """Wait for `wake` (True) or `delay` (False); a lost wake-up lock ends it early."""
        deadline = asyncio.get_running_loop().time() + delay
        while True:
            left = deadline - asyncio.get_running_loop().time()
            step = min(left, self._check) if self.doorbell.armed else left
            try:
                async with asyncio.timeout(max(0.0, step)):  # no extra task, unlike wait_for
                    await wake.wait()
                return True
            except TimeoutError:
                if step >= left:
                    return False
            if not await self.doorbell.still_armed():
                return False  # writers no longer send NOTIFYs: read the outbox, arm again
