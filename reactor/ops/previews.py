"""`reactor templates preview`: what an invoice's message would be, rendered, never sent.

The invoice is read from the database as the pipeline reads it; the message is rendered
by the same renderer, templates (TEMPLATES_DIR) and locale as a delivery's. What a
preview cannot know, it leaves out: the signed take link and the SMS reply code, which
belong to a delivery row.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from reactor.domain.messages import CardMessage, ChatMessage, InvoiceView, RenderedEmail
from reactor.runtime.wiring import open_store
from reactor.settings.service import Settings


@dataclass(frozen=True)
class Preview:
    """What the command prints, and (email) the HTML part for --out."""

    text: str
    html: str | None = None


def read_invoice(database_url: str, invoice_id: UUID) -> InvoiceView | None:
    """The invoice as a message shows it; None when there is no such invoice."""

    async def facts() -> dict[str, Any]:
        async with open_store(database_url) as store:
            return await store.invoice_facts(invoice_id)

    row = asyncio.run(facts())
    if not row:
        return None
    due = row["due_date"]
    return InvoiceView(
        invoice_id=str(invoice_id),
        invoice_number=row["invoice_number"],
        vendor_name=row["vendor_name"],
        total_amount=row["total_amount"],
        currency=row["currency"],
        due_date=due.isoformat() if due is not None else None,
    )


def preview(
    settings: Settings, invoice: InvoiceView, channel: str, locale: str | None, reminder: bool
) -> Preview:
    """The message one channel would carry for the invoice."""
    renderer = settings.renderer()
    if channel == "email":
        email: RenderedEmail = renderer.email(invoice, reminder, locale=locale)
        return Preview(f"Subject: {email.subject}\n\n{email.text}", email.html)
    if channel == "sms":
        return Preview(renderer.sms(invoice, reminder, locale=locale))
    waited = 3600.0 if reminder else None
    if channel == "slack":
        chat: ChatMessage = renderer.slack(invoice, waited, locale=locale)
        body = {"text": chat.text, "blocks": list(chat.blocks)}
        return Preview(json.dumps(body, indent=2, ensure_ascii=False))
    card: CardMessage = renderer.teams(invoice, waited, locale=locale)
    return Preview(json.dumps(card.card, indent=2, ensure_ascii=False))
