"""What a notification says: the types every transport accepts.

The renderer (`reactor.messages.renderer`) makes them from Jinja templates; SMS
length accounting is `reactor.messages.sms`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The action_id of Slack's own take button (messages/slack.py builds it; the interaction
# route reads it): here, so that building a message never imports slack_sdk.
SLACK_TAKE_ACTION = "take_invoice"


@dataclass(frozen=True)
class InvoiceView:
    """The invoice facts a notification shows (text straight from the database)."""

    invoice_id: str
    invoice_number: str | None
    vendor_name: str | None
    total_amount: str | None
    currency: str | None
    due_date: str | None = None  # ISO date, when the invoice has one

    @classmethod
    def from_row(cls, row: Mapping[str, Any], invoice_id: object = None) -> InvoiceView:
        """A query's row of the message fields (`reactor_message_fields`), and its due date."""
        due = row.get("due_date")
        return cls(
            invoice_id=str(row["invoice_id"] if invoice_id is None else invoice_id),
            invoice_number=row["invoice_number"],
            vendor_name=row["vendor_name"],
            total_amount=row["total_amount"],
            currency=row["currency"],
            due_date=due.isoformat() if due else None,
        )


@dataclass(frozen=True)
class RenderedEmail:
    """A rendered e-mail: single-line subject, HTML part and plain-text part."""

    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class ChatMessage:
    """A chat message: Block Kit `blocks`, and a plain `text` for notifications."""

    text: str
    blocks: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class CardMessage:
    """A Microsoft Teams message: one Adaptive Card, and a plain summary for the log."""

    card: dict[str, Any]
    summary: str


Message = RenderedEmail | ChatMessage | CardMessage | str  # email, Slack, Teams, or SMS
