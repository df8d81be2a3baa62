"""Delivery receipts: what the providers report after accepting a message, as one record.

Pure: which reported statuses are kept, how far along each is (a receipt never
moves a row backwards: callbacks arrive out of order), and which ones mean the
message did not reach its person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# How far along a message is; a receipt is recorded only when it goes further.
# sql/queries/record_receipts.sql ranks the stored status with the same table.
RANKS = {
    "sent": 1,  # Twilio: handed to the carrier
    "deferred": 1,  # SendGrid: the receiving server asked to try again later
    "delivered": 2,
    "undelivered": 2,  # Twilio: the carrier could not deliver it
    "failed": 2,  # Twilio: it was never sent
    "bounce": 2,  # SendGrid: the receiving server refused it
    "dropped": 2,  # SendGrid: SendGrid would not send it (a bounced or spam-flagged address)
}
# Delivered to nobody: shown among the failures.
UNDELIVERED = frozenset({"undelivered", "failed", "bounce", "dropped"})
# SendGrid engagement events: counted, never stored per person.
ENGAGEMENT = frozenset({"open", "click"})


@dataclass(frozen=True)
class Receipt:
    """One provider report about one message."""

    channel: str  # email, sms
    status: str  # a key of RANKS
    message_id: str | None = None  # Twilio's MessageSid
    delivery_id: int | None = None  # SendGrid's reactor_delivery_id custom arg
    error: str | None = None  # masked
    event_id: str | None = None  # SendGrid's sg_event_id, for deduplication

    @property
    def rank(self) -> int:
        """How far along the message is."""
        return RANKS[self.status]


def twilio_receipt(form: dict[str, str]) -> Receipt | None:
    """A Twilio status callback's receipt; None for a status that is not recorded."""
    status = (form.get("MessageStatus") or "").lower()
    sid = form.get("MessageSid") or ""
    if status not in ("sent", "delivered", "undelivered", "failed") or not sid:
        return None
    code = form.get("ErrorCode")
    return Receipt("sms", status, message_id=sid, error=f"Twilio error {code}" if code else None)


def sendgrid_receipt(event: dict[str, object], masked_reason: str | None) -> Receipt | None:
    """A SendGrid event's receipt; None for an event that is not recorded per row."""
    status = str(event.get("event") or "").lower()
    delivery = event.get("reactor_delivery_id")
    if status not in ("delivered", "deferred", "bounce", "dropped"):
        return None
    try:
        delivery_id = int(str(delivery))
    except ValueError:
        return None
    event_id = event.get("sg_event_id")
    return Receipt(
        "email",
        status,
        delivery_id=delivery_id,
        error=masked_reason,
        event_id=str(event_id) if event_id else None,
    )


def receipt_shares(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per channel, the last day's receipts: how many, and each status's share of them."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["method"], {})[row["receipt_status"]] = row["count"]
    shares = {}
    for channel, by_status in counts.items():
        total = sum(by_status.values())
        shares[channel] = {
            "receipts": total,
            "share": {status: round(n / total, 3) for status, n in by_status.items()},
        }
    return shares
