"""Claims: due retries and expired leases, taken under a lease with SKIP LOCKED.

A claim re-checks each row's invoice (still in review, same episode) in the
statement itself (claim_due.sql); the rows it returns become Deliveries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reactor.db.store import Store
from reactor.domain.decisions import claimed_disposition
from reactor.domain.deliveries import Delivery, DrainReport
from reactor.domain.enums import Disposition
from reactor.settings.service import Settings
from reactor.support import metrics


def to_send(
    rows: Sequence[dict[str, Any]],
    report: DrainReport,
    claimed_by: str = "claim",
    claim_span: tuple[int, int] = (0, 0),
) -> list[Delivery]:
    """The claimed rows to send; rows claimed straight into SKIPPED or FAILED are counted.

    `claimed_by` and `claim_span` (the statement's start and end) go into the traces.
    """
    deliveries = []
    for row in rows:
        disposition = claimed_disposition(row["status"])
        if disposition is Disposition.SEND:
            deliveries.append(Delivery.from_row(row, claimed_by, claim_span))
        elif disposition in (Disposition.SKIPPED, Disposition.FAILED):
            report.skipped += disposition is Disposition.SKIPPED
            report.failed += disposition is Disposition.FAILED
            metrics.DELIVERIES.labels(row["method"], row["status"].lower()).inc()
    return deliveries


@dataclass(frozen=True)
class Claims:
    """Claims due deliveries in batches for this process."""

    store: Store
    settings: Settings

    def params(self, room: int, paused: Sequence[str]) -> dict[str, Any]:
        """The claim statement's parameters for `room` claimable rows."""
        return {
            "limit": min(self.settings.claim_batch_size, room),
            "lease_seconds": self.settings.lease_seconds,
            "max_attempts": self.settings.max_attempts,
            "paused": list(paused),
        }

    async def claim_due(
        self, room: int, paused: Sequence[str], report: DrainReport
    ) -> tuple[list[Delivery], bool]:
        """Claim up to `room` due rows; (deliveries to send, none left due)."""
        params = self.params(room, paused)
        started = time.time_ns()
        rows = await self.store.claim_due(**params)
        span = (started, time.time_ns())
        return to_send(rows, report, "claim", span), len(rows) < params["limit"]
