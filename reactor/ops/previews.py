"""`reactor templates preview`: what an invoice's message would be, rendered, never sent.

The invoice is read from the database as the pipeline reads it; the message is rendered
by the same renderer, templates (TEMPLATES_DIR) and locale as a delivery's. What a
preview cannot know, it leaves out: the signed take link and the SMS reply code, which
belong to a delivery row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from reactor.domain.messages import CardMessage, ChatMessage, InvoiceView, RenderedEmail
from reactor.ops.explain import read_facts
from reactor.settings.service import Settings


@dataclass(frozen=True)
class Preview:
    """What the command prints, and (email) the HTML part for --out."""

    text: str
    html: str | None = None


def read_invoice(database_url: str, invoice_id: UUID) -> InvoiceView | None:
    """The invoice as a message shows it; None when there is no such invoice."""
    row = read_facts(database_url, invoice_id)
    return InvoiceView.from_row(row, invoice_id) if row else None


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
