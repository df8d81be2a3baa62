"""Slack messages: Block Kit built from the renderer's facts, and mrkdwn escaping.

Every piece of invoice text goes into `plain_text` objects, which Slack never parses
for formatting, links or mentions; the top-level `text` (shown in notifications) is
mrkdwn, so `&`, `<` and `>` are escaped there: `<!channel>` cannot ping anybody.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reactor.domain.messages import ChatMessage
from reactor.support.slack_interactions import TAKE_ACTION

HEADER_MAX = 150  # Slack's limit for a header block's text
FIELD_MAX = 2000  # a section field's text (Slack allows 2,000)
BUTTON_MAX = 75


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters, as its docs say to escape them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def waited(seconds: float) -> str:
    """How long an invoice has waited, in the largest whole unit ("3 hours", "2 days")."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


def _plain(text: str, limit: int = FIELD_MAX) -> dict[str, Any]:
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return {"type": "plain_text", "text": text or " ", "emoji": False}


def _button(
    label: str, url: str, take_link: str | None = None, take_token: str | None = None
) -> dict[str, Any]:
    """The actions block: the link button, and the take button when there is one: Slack's
    own (an interaction carrying the signed token) or else a link to the take page."""
    elements = [{"type": "button", "text": _plain(label, BUTTON_MAX), "url": url}]
    take = {"type": "button", "text": _plain("I'll take it")}
    if take_token:
        elements.append({**take, "action_id": TAKE_ACTION, "value": take_token})
    elif take_link:
        elements.append({**take, "url": take_link})
    return {"type": "actions", "elements": elements}


def invoice_message(facts: dict[str, Any], reminder: str | None) -> ChatMessage:
    """One invoice: a header, vendor and amount, how long it waited, the link button (and
    the take button: `take_token` for Slack's own, else `take_link`)."""
    title = (
        f"Reminder: invoice {facts['reference']} still needs review"
        if reminder
        else (f"Invoice {facts['reference']} needs review")
    )
    fields = [_plain(f"Vendor: {facts['vendor']}"), _plain(f"Amount: {facts['amount']}")]
    if facts.get("due_date"):
        fields.append(_plain(f"Due: {facts['due_date']}"))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title, HEADER_MAX)},
        {"type": "section", "fields": fields},
    ]
    if reminder:
        blocks.append(
            {"type": "context", "elements": [_plain(f"Waiting for review for {reminder}")]}
        )
    blocks.append(
        _button("Open invoice", facts["link"], facts.get("take_link"), facts.get("take_token"))
    )
    text = f"{title}: {facts['vendor']}, {facts['amount']}"
    return ChatMessage(text=escape_mrkdwn(text), blocks=tuple(blocks))


def left_review_message(reference: str, status: str, invoices: int) -> ChatMessage:
    """What a message says once its invoices have left review: no button any more."""
    if invoices == 1:
        title = f"Invoice {reference} no longer needs review"
        detail = f"Now {status}."
    else:
        title = f"These {invoices} invoices no longer need review"
        detail = f"None of them is waiting for review (for example {reference}: {status})."
    blocks = (
        {"type": "header", "text": _plain(title, HEADER_MAX)},
        {"type": "section", "text": _plain(detail)},
    )
    return ChatMessage(text=escape_mrkdwn(title), blocks=blocks)


def taken_message(reference: str, taken_by: str, link: str) -> ChatMessage:
    """What a message says once somebody took its invoice: who, and no take button."""
    title = f"Invoice {reference} is taken"
    blocks = (
        {"type": "header", "text": _plain(title, HEADER_MAX)},
        {"type": "section", "text": _plain(f"{taken_by} is on it.")},
        _button("Open invoice", link),
    )
    return ChatMessage(text=escape_mrkdwn(f"{title} by {taken_by}"), blocks=blocks)


def digest_message(
    count: int, totals: str, listed: Sequence[dict[str, Any]], unlisted: int, queue_link: str
) -> ChatMessage:
    """Several invoices: the count and totals, one line each for the first 20, the queue."""
    title = f"{count} invoices need review"
    lines = [f"{f['reference']}: {f['vendor']}, {f['amount']}" for f in listed]
    if unlisted:
        lines.append(f"and {unlisted} more")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title, HEADER_MAX)},
        {"type": "section", "text": _plain(f"Total: {totals}")},
        {"type": "section", "text": _plain("\n".join(lines))},
        _button("Open the review queue", queue_link),
    ]
    return ChatMessage(text=escape_mrkdwn(f"{title} ({totals})"), blocks=tuple(blocks))
