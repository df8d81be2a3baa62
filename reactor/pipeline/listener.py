"""The LISTEN side: a dedicated autocommit connection that turns NOTIFY into a wake-up.

NOTIFY carries no data here (the outbox does), so a payload is never parsed. A
connection that dies or silently stops answering is found by a `SELECT 1` probe
when the channel has been quiet for a while, and by TCP keepalives; the listener
then reconnects with exponential backoff and jitter, and every (re)connect asks
for a catch-up pass, because notifications sent while it was away are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import structlog

from reactor.db.connections import conninfo
from reactor.support import metrics
from reactor.support.aio import bounded
from reactor.support.masking import mask_text
from reactor.support.resources import sql

log = structlog.get_logger("reactor.listener")

CHANNEL = "invoice_review"  # the trigger's: new outbox rows
DUE_CHANNEL = "invoice_review_due"  # a reactor's: deliveries are due now (bulk overflow, retry)


@dataclass
class ListenerState:
    """What the probes report about the listener."""

    connected: bool = False
    listening: bool = False
    since: datetime | None = None
    last_wake_at: datetime | None = None
    reconnects: int = 0
    last_error: str | None = None


class Listener:
    """Keeps one LISTEN connection alive and calls `on_wake` for each wake-up."""

    def __init__(
        self,
        database_url: str,
        on_wake: Callable[[], None],
        on_connect: Callable[[], None],
        on_due: Callable[[], None] | None = None,
        timeout: float = 30.0,
        redact: Callable[[str], str] = mask_text,
    ) -> None:
        self._conninfo = conninfo(database_url, "invoice-reactor listener")
        self._on_wake = on_wake
        self._on_connect = on_connect
        self._on_due = on_due or on_wake
        self._timeout = timeout
        self._redact = redact  # errors are shown by /health/status: redacted like log lines
        self._stop = asyncio.Event()
        self._junk_logged = False
        self.state = ListenerState()

    def stop(self) -> None:
        """Ask the loop to end."""
        self._stop.set()

    async def run(self) -> None:
        """Listen until stopped, reconnecting whenever the connection is lost."""
        failures = 0
        connected_before = False
        while not self._stop.is_set():
            try:
                await self._listen_once(reconnect=connected_before)
                failures = 0
            except (psycopg.Error, OSError, TimeoutError) as error:
                self.state.last_error = self._redact(str(error).strip() or type(error).__name__)
                failures += 1
                log.warning(
                    "listener connection lost; reconnecting",
                    error=self.state.last_error,
                    attempt=failures,
                )
            finally:
                if self.state.connected:
                    connected_before = True
                self._set_disconnected()
            if not self._stop.is_set():
                delay = min(10.0, 0.1 * 2 ** min(failures, 10)) * random.uniform(0.5, 1.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)

    async def _listen_once(self, reconnect: bool) -> None:
        # Quiet for a third of the bound, then a probe with a third to answer: a dead
        # connection is found within two thirds of LISTENER_TIMEOUT_SECONDS.
        probe_every = max(0.5, self._timeout / 3)
        connection = await bounded(
            psycopg.AsyncConnection.connect(self._conninfo, autocommit=True), self._timeout
        )
        try:
            await bounded(
                connection.execute(f"LISTEN {CHANNEL}; LISTEN {DUE_CHANNEL}"), probe_every
            )
            self._set_connected(reconnect)
            self._on_connect()  # catch up on whatever was missed while not listening
            while not self._stop.is_set():
                quiet = True
                async for notify in connection.notifies(timeout=probe_every):
                    quiet = False
                    (self._on_due if notify.channel == DUE_CHANNEL else self._on_wake)()
                    # Let the woken dispatcher send its claim before this task counts the
                    # wake-up and goes back to waiting on the socket.
                    await asyncio.sleep(0)
                    self._woken(notify.payload)
                    if self._stop.is_set():
                        break
                if quiet and not self._stop.is_set():
                    await bounded(connection.execute(sql("queries/ping")), probe_every)
        finally:
            with contextlib.suppress(TimeoutError, psycopg.Error, OSError):
                await bounded(connection.close(), 1.0)

    def _woken(self, payload: str) -> None:
        """Count a wake-up (its payload, which nothing reads, is logged once)."""
        metrics.NOTIFIES.inc()
        self.state.last_wake_at = datetime.now(UTC)
        if payload and not self._junk_logged:
            self._junk_logged = True  # once per process: the channel carries no data
            log.warning(
                "ignoring unexpected NOTIFY payloads", channel=CHANNEL, example_length=len(payload)
            )

    def _set_connected(self, reconnect: bool) -> None:
        self.state.connected = self.state.listening = True
        self.state.since = datetime.now(UTC)
        self.state.last_error = None
        metrics.LISTENER_CONNECTED.set(1)
        if reconnect:
            self.state.reconnects += 1
            metrics.LISTENER_RECONNECTS.inc()
        log.info("listening", channel=CHANNEL, reconnect=reconnect)

    def _set_disconnected(self) -> None:
        self.state.connected = self.state.listening = False
        self.state.since = datetime.now(UTC)
        metrics.LISTENER_CONNECTED.set(0)
