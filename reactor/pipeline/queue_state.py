"""The queue as operators see it: one read model for every view of it.

The probes, `reactor status` and the console read it, so that each shows the same
numbers rounded the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reactor.db.store import Row, Store
from reactor.domain.deliveries import waiting_summary
from reactor.domain.receipts import receipt_shares


def seconds(value: object) -> float | None:
    """An age in seconds as shown: one decimal, None when there is none."""
    return None if value is None else round(float(str(value)), 1)


@dataclass(frozen=True)
class QueueState:
    """Counts of the delivery rows and the outbox, what waits on purpose, and receipts."""

    pending: int
    sending: int
    failed: int
    pending_events: int
    oldest_pending_age_seconds: float | None
    oldest_event_age_seconds: float | None
    waiting_rows: list[Row]  # by reason: count, next_at, last_at (for the console's table)
    receipts_rows: list[Row]

    @property
    def waiting(self) -> dict[str, dict[str, Any]]:
        """What waits for a later moment, by why (JSON-ready)."""
        return waiting_summary(self.waiting_rows)

    @property
    def receipts_last_day(self) -> dict[str, dict[str, Any]]:
        """The last day's receipts per channel (JSON-ready)."""
        return receipt_shares(self.receipts_rows)


async def read_queue_state(store: Store, timeout: float | None = None) -> QueueState:
    """One read of the queue (three statements, each bounded by `timeout`)."""
    backlog = await store.backlog(timeout=timeout)
    waiting = await store.waiting(timeout=timeout)
    receipts = await store.receipts_last_day(timeout=timeout)
    return QueueState(
        pending=int(backlog.get("pending") or 0),
        sending=int(backlog.get("sending") or 0),
        failed=int(backlog.get("failed") or 0),
        pending_events=int(backlog.get("pending_events") or 0),
        oldest_pending_age_seconds=seconds(backlog.get("oldest_pending_age_seconds")),
        oldest_event_age_seconds=seconds(backlog.get("oldest_event_age_seconds")),
        waiting_rows=waiting,
        receipts_rows=receipts,
    )
