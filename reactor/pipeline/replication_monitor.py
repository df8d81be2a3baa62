"""Replica mode's health: the subscription's state and how far behind the upstream it is.

Every few seconds the monitor reads the subscription on the reactor's database and
the upstream's WAL position (and its slot) on a connection of its own. Lag in bytes
is the upstream's position minus what has been applied; lag in seconds is how long
ago the upstream was at the position applied now (from the positions it sampled).
`verdict` is the pure decision the probes use.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import psycopg
import structlog

from reactor.db.connections import conninfo
from reactor.db.store import Store
from reactor.support import metrics
from reactor.support.aio import bounded
from reactor.support.resources import sql

log = structlog.get_logger("reactor.replication")

EVERY_SECONDS = 5.0
SAMPLES = 400  # about half an hour of upstream positions at EVERY_SECONDS


def lsn(text: str | None) -> int | None:
    """A `pg_lsn` as text ('16/B374D848') as a number of bytes."""
    if not text:
        return None
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass
class ReplicationState:
    """What the probes report about the subscription."""

    subscribed: bool = False
    enabled: bool = False
    applying: bool = False
    tables_syncing: int = 0
    slot_on_upstream: bool | None = None  # None: the upstream could not be asked
    upstream_error: str | None = None
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    checked_at: float | None = None  # time.monotonic()
    _samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=SAMPLES))

    def record(self, upstream_lsn: int | None, applied_lsn: int | None, now: float) -> None:
        """Lag from a new pair of positions: the upstream's and what has been applied."""
        if upstream_lsn is not None:
            self._samples.append((now, upstream_lsn))
        if upstream_lsn is None or applied_lsn is None:
            self.lag_bytes = self.lag_seconds = None
            return
        self.lag_bytes = max(0, upstream_lsn - applied_lsn)
        behind = [at for at, position in self._samples if position > applied_lsn]
        self.lag_seconds = round(now - behind[0], 1) if behind else 0.0

    def public(self) -> dict[str, Any]:
        """The fields the probes show."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


def verdict(state: ReplicationState, max_lag_seconds: float) -> str | None:
    """Why replication keeps the reactor from being ready, or None when it does not."""
    if not state.subscribed:
        return "replication: no subscription (run `reactor migrate`)"
    if not state.enabled:
        return "replication: the subscription is disabled"
    if state.slot_on_upstream is False:
        return (
            "replication: the upstream has lost the replication slot invoice_reactor "
            "(a failover?): stop the reactor and run `reactor migrate` to subscribe again"
        )
    if not state.applying:
        return "replication: the apply worker is not running (erroring, or restarting)"
    if state.lag_seconds is not None and state.lag_seconds > max_lag_seconds:
        return f"replication: {state.lag_seconds:.0f} s behind the upstream"
    return None


class ReplicationMonitor:
    """Samples the subscription and the upstream every EVERY_SECONDS."""

    def __init__(self, store: Store, upstream_url: str) -> None:
        self._store = store
        self._conninfo = conninfo(upstream_url, "invoice-reactor replication monitor")
        self._upstream: psycopg.AsyncConnection | None = None
        self.state = ReplicationState()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ask the loop to end."""
        self._stop.set()

    async def run(self) -> None:
        """Sample until stopped."""
        while not self._stop.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=EVERY_SECONDS)
        if self._upstream is not None:
            with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                await bounded(self._upstream.close(), 1.0)

    async def check(self) -> ReplicationState:
        """One sample of both sides."""
        state = self.state
        try:
            row = await self._store.subscription_state()
        except (psycopg.Error, OSError, TimeoutError):
            row = None
        state.subscribed = row is not None
        row = row or {}
        state.enabled = bool(row.get("enabled"))
        state.applying = bool(row.get("applying"))
        state.tables_syncing = int(row.get("tables_syncing") or 0)
        upstream = await self._upstream_position()
        state.record(
            lsn(upstream.get("current_lsn")) if upstream else None,
            lsn(row.get("applied_lsn")),
            time.monotonic(),
        )
        state.slot_on_upstream = bool(upstream.get("slot_usable")) if upstream else None
        state.checked_at = time.monotonic()
        if state.lag_seconds is not None:
            metrics.REPLICATION_LAG_SECONDS.set(state.lag_seconds)
        if state.lag_bytes is not None:
            metrics.REPLICATION_LAG_BYTES.set(state.lag_bytes)
        metrics.REPLICATION_APPLYING.set(1 if state.applying else 0)
        return state

    async def _upstream_position(self) -> dict[str, Any] | None:
        try:
            if self._upstream is None or self._upstream.closed:
                self._upstream = await bounded(
                    psycopg.AsyncConnection.connect(self._conninfo, autocommit=True), 5.0
                )
            cursor = await bounded(self._upstream.execute(sql("replica/upstream_lsn")), 5.0)
            row = await cursor.fetchone()
            names = [d.name for d in cursor.description or []]
        except (psycopg.Error, OSError, TimeoutError) as error:
            self.state.upstream_error = type(error).__name__
            self._upstream = None
            return None
        self.state.upstream_error = None
        return dict(zip(names, row, strict=True)) if row else None
