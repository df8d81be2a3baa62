"""The records that flow down the pipeline: a claimed Delivery, its Outcome, a drain's counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from reactor.messages import InvoiceView
from reactor.recipients import Channel


@dataclass(frozen=True)
class Delivery:
    """One claimed notification: a message for one recipient on one channel."""

    id: int
    claim_token: UUID  # this claim's; only it may record the outcome
    channel: Channel
    recipient: str
    attempts: int
    invoice: InvoiceView
    event_created_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Delivery:
        """A claimed row as the claim statements return it."""
        return cls(
            id=row["id"],
            claim_token=row["claim_token"],
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


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery; `status` is the row's next status."""

    delivery_id: int
    claim_token: UUID
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
