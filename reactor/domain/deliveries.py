"""The records that flow down the pipeline: a claimed Delivery, its Outcome, a drain's counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from reactor.domain.enums import Channel, Status
from reactor.domain.messages import InvoiceView


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
    kind: str = "notice"  # or "reminder"
    # A digest: every row the message carries, this one first (empty: it goes alone).
    digest: tuple[Delivery, ...] = ()
    rule_name: str | None = None  # the rule its row records
    traceparent: str | None = None  # the upstream's trace context (W3C), when it gave one
    # How it was claimed, for its trace: "intake" or "claim", and the statement's span
    # (time.time_ns() before and after).
    claimed_by: str = "claim"
    claim_span: tuple[int, int] = (0, 0)

    @property
    def reminder(self) -> bool:
        """Whether this is a reminder (the invoice is still in review), not the first notice."""
        return self.kind == "reminder"

    def rows(self) -> list[tuple[int, UUID]]:
        """(row id, claim token) of every row this message carries."""
        return [(d.id, d.claim_token) for d in self.digest or (self,)]

    @classmethod
    def from_row(
        cls, row: Mapping[str, Any], claimed_by: str = "claim", claim_span: tuple[int, int] = (0, 0)
    ) -> Delivery:
        """A claimed row as the claim statements return it."""
        return cls(
            id=row["id"],
            claim_token=row["claim_token"],
            channel=Channel(row["method"]),
            recipient=row["recipient"],
            attempts=row["attempts"],
            event_created_at=row["event_created_at"],
            kind=row.get("kind") or "notice",
            rule_name=row.get("rule_name"),
            traceparent=row.get("traceparent"),
            claimed_by=claimed_by,
            claim_span=claim_span,
            invoice=InvoiceView.from_row(row),
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
    held: str | None = None  # why a PENDING row waits on purpose: "quiet_hours", ...
    transport: str | None = None  # which transport sent it (SENT only)
    trace_context: str | None = None  # the delivery span's traceparent (tracing on only)
    # A digest's other rows, which share this outcome (and its provider message id).
    digest: tuple[tuple[int, UUID], ...] = ()

    @property
    def digest_size(self) -> int | None:
        """How many invoices the message listed (None: it went alone)."""
        return 1 + len(self.digest) if self.digest else None

    def rows(self) -> list[tuple[int, UUID]]:
        """(row id, claim token) of every row this outcome is written to."""
        return [(self.delivery_id, self.claim_token), *self.digest]


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
        """Count one outcome (a digest's: once per row)."""
        rows = 1 + len(outcome.digest)
        if outcome.status == Status.SENT:
            self.sent += rows
        elif outcome.status == Status.FAILED:
            self.failed += rows
        else:
            self.retrying += rows


def waiting_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Deliveries waiting for a later moment, by why: count, and from when until when (UTC)."""
    return {
        row["reason"]: {
            "count": row["count"],
            "next_at": row["next_at"].isoformat(),
            "last_at": row["last_at"].isoformat(),
        }
        for row in rows
    }
