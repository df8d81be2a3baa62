"""Intake: take outbox events and decide their deliveries, one per (channel, recipient).

The policy of who is told lives here (today: every configured recipient); the
statement itself (take_events.sql) makes the episodes and the delivery rows, and
claims the first of them for this process, all in one round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reactor.claims import to_send
from reactor.config import Settings
from reactor.deliveries import Delivery, DrainReport
from reactor.store import Store


@dataclass(frozen=True)
class Intake:
    """Turns outbox events into deliveries for the configured recipients."""

    store: Store
    settings: Settings

    async def take(
        self, room: int, paused: Sequence[str], report: DrainReport
    ) -> tuple[list[Delivery], bool, bool]:
        """Take a batch of events; (deliveries to send, outbox now empty, rows left due)."""
        recipients = self.settings.recipients.recipients
        limit = self.settings.claim_batch_size
        taken = await self.store.take_events(
            limit=limit,
            claim_episodes=max(1, room // max(1, len(recipients))),
            methods=[r.channel.value for r in recipients],
            recipients=[r.address for r in recipients],
            lease_seconds=self.settings.lease_seconds,
            paused=list(paused),
        )
        report.events += taken.events
        return to_send(taken.rows, report), taken.events < limit, taken.left_pending > 0
