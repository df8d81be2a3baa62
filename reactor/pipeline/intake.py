"""Intake: take outbox events and decide their deliveries, one per (channel, recipient).

The policy of who is told lives here: the notification rules (reactor.policy),
passed to the statement as routes. The statement (take_events.sql) makes the
episodes and the delivery rows the rules choose, and claims the first of them for
this process, all in one round trip. It reads the invoices' fields from their own
columns when the table has them all, else through to_jsonb (a third of a millisecond
more per take here); a column dropped or retyped while running turns it to the second way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import psycopg
import structlog

from reactor.db.store import Store
from reactor.domain.deliveries import Delivery, DrainReport
from reactor.pipeline.claims import to_send
from reactor.policy.matching import reads_invoice, routes
from reactor.settings.service import Settings

log = structlog.get_logger("reactor.intake")

ALL_EPISODES = 2**31 - 1
# Outbox rows taken per statement. The trigger writes one per invoice (sql/schema/
# 0009_row_trigger_up.sql): a bulk change of up to this many invoices is taken at once,
# so that each recipient's digest carries all of it.
EVENTS_PER_TAKE = 10_000
# What reading the invoice's own columns raises once a column is dropped or retyped.
SCHEMA_CHANGED = (
    psycopg.errors.UndefinedColumn,
    psycopg.errors.DataError,
    psycopg.errors.CannotCoerce,
)


@dataclass(frozen=True)
class Intaken:
    """What one take of outbox events gave this process."""

    deliveries: list[Delivery]  # claimed now: to send
    outbox_empty: bool
    left_due: bool  # rows due now were left PENDING, for every replica's claim path
    scheduled: bool  # reminders were scheduled for later


class Intake:
    """Turns outbox events into the deliveries the notification rules choose."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.fields: str | None = None  # "columns" or "json" (invoice_fields/), found once

    @cached_property
    def routes(self) -> str:
        """The rules as the intake statement reads them (JSON), built once."""
        return routes(self.settings.rules)

    @cached_property
    def read_fields(self) -> bool:
        """Whether routing reads every taken invoice's fields (some rule has a condition)."""
        return reads_invoice(self.settings.rules)

    def params(self, room: int, paused: Sequence[str]) -> dict[str, Any]:
        """The intake statement's parameters for `room` claimable rows."""
        recipients = self.settings.recipients.recipients  # everyone any rule may tell
        # With digests a bulk is a message per recipient, not a row each: all of it is
        # claimed here, so that one digest carries it (and no replica races for parts).
        episodes = max(1, room // max(1, len(recipients)))
        if self.settings.digest_window_seconds > 0:
            episodes = ALL_EPISODES
        return {
            "limit": EVENTS_PER_TAKE,
            "claim_episodes": episodes,
            "routes": self.routes,
            "read_fields": self.read_fields,
            "default_currency": self.settings.default_currency,
            "timezone": self.settings.default_timezone,
            "lease_seconds": self.settings.lease_seconds,
            "paused": list(paused),
        }

    async def take(self, room: int, paused: Sequence[str], report: DrainReport) -> Intaken:
        """Take a batch of events: the deliveries to send now, and what was left for later."""
        params = self.params(room, paused)
        if self.fields is None:
            self.fields = "columns" if await self.store.invoice_columns() else "json"
        started = time.time_ns()
        try:
            taken = await self.store.take_events(self.fields, **params)
        except SCHEMA_CHANGED:
            if self.fields == "json":
                raise
            log.warning("the invoices table changed; reading invoice fields by name")
            self.fields = "json"
            taken = await self.store.take_events(self.fields, **params)
        span = (started, time.time_ns())
        report.events += taken.events
        return Intaken(
            deliveries=to_send(taken.rows, report, "intake", span),
            outbox_empty=taken.events < EVENTS_PER_TAKE,
            left_due=taken.left_pending > 0,
            scheduled=taken.next_reminder_at is not None,
        )
