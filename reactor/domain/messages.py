"""What a notification says: the types every transport accepts.

The renderer (`reactor.messages.renderer`) makes them from Jinja templates; SMS
length accounting is `reactor.messages.sms`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InvoiceView:
    """The invoice facts a notification shows (text straight from the database)."""

    invoice_id: str
    invoice_number: str | None
    vendor_name: str | None
    total_amount: str | None
    currency: str | None


@dataclass(frozen=True)
class RenderedEmail:
    """A rendered e-mail: single-line subject, HTML part and plain-text part."""

    subject: str
    html: str
    text: str


Message = RenderedEmail | str  # an email, or an SMS body
