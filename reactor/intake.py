"""Intake: take outbox events and decide their deliveries, one per (channel, recipient).

The policy of who is told lives here: the notification rules (reactor.policy),
passed to the statement as routes. The statement (take_events.sql) makes the
episodes and the delivery rows the rules choose, and claims the first of them for
this process, all in one round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from reactor.claims import to_send
from reactor.config import Settings
from reactor.deliveries import Delivery, DrainReport
from reactor.policy.matching import reads_invoice, routes
from reactor.store import Store


@dataclass(frozen=True)
class Intake:
    """Turns outbox events into the deliveries the notification rules choose."""

    store: Store
    settings: Settings

    @cached_property
    def routes(self) -> str:
        """The rules as the intake statement reads them (JSON), built once."""
        return routes(self.settings.rules)

    @cached_property
    def read_fields(self) -> bool:
        """Whether routing reads every taken invoice's fields (some rule has a condition)."""
        return reads_invoice(self.settings.rules)

    async def take(
        self, room: int, paused: Sequence[str], report: DrainReport
    ) -> tuple[list[Delivery], bool, bool]:
        """Take a batch of events; (deliveries to send, outbox now empty, rows left due)."""
        recipients = self.settings.recipients.recipients  # everyone any rule may tell
        limit = self.settings.claim_batch_size
        taken = await self.store.take_events(
            limit=limit,
            claim_episodes=max(1, room // max(1, len(recipients))),
            routes=self.routes,
            read_fields=self.read_fields,
            default_currency=self.settings.default_currency,
            lease_seconds=self.settings.lease_seconds,
            paused=list(paused),
        )
        report.events += taken.events
        return to_send(taken.rows, report), taken.events < limit, taken.left_pending > 0
