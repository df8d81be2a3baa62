"""Microsoft Teams messages: Adaptive Cards (schema 1.5) built from the renderer's facts.

A TextBlock's text is a Markdown subset in Teams, so invoice text is escaped with
backslashes before it goes in: a vendor called `**[click](http://evil)**` reads as
typed. A card stays well under Teams' 28 KB: a digest lists 20 invoices, each line cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from reactor.domain.messages import CardMessage

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
LINE_MAX = 200
# What Teams' Markdown subset gives a meaning anywhere in a line (emphasis, links,
# code), and at a line's start (lists, headings); dates and amounts stay as written.
_ANYWHERE = re.compile(r"([\\`*_\[\]()~<>])")
_LIST_OR_HEADING = re.compile(r"^(\s*)([-+#])")
_NUMBERED = re.compile(r"^(\s*\d+)\.")


def escape_markdown(text: str) -> str:
    """The characters Teams' Markdown subset would act on, backslash-escaped."""
    text = _ANYWHERE.sub(r"\\\1", text)
    text = _LIST_OR_HEADING.sub(r"\1\\\2", text)
    return _NUMBERED.sub(r"\1\\.", text)


def _text(text: str, **style: Any) -> dict[str, Any]:
    if len(text) > LINE_MAX:
        text = text[: LINE_MAX - 3] + "..."
    return {"type": "TextBlock", "text": escape_markdown(text), "wrap": True, **style}


def _card(
    body: list[dict[str, Any]], label: str, url: str, take_link: str | None = None
) -> dict[str, Any]:
    actions = [{"type": "Action.OpenUrl", "title": label, "url": url}]
    if take_link:
        actions.append({"type": "Action.OpenUrl", "title": "I'll take it", "url": take_link})
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "body": body,
        "actions": actions,
    }


def invoice_card(facts: dict[str, Any], waited: str | None) -> CardMessage:
    """One invoice: a title, the vendor and amount, how long it waited, the link."""
    title = (
        f"Reminder: invoice {facts['reference']} still needs review"
        if waited
        else f"Invoice {facts['reference']} needs review"
    )
    facts_set = {
        "type": "FactSet",
        "facts": [
            {"title": "Vendor", "value": escape_markdown(facts["vendor"][:LINE_MAX])},
            {"title": "Amount", "value": escape_markdown(facts["amount"])},
            *(
                [{"title": "Due", "value": escape_markdown(facts["due_date"])}]
                if facts.get("due_date")
                else []
            ),
        ],
    }
    body = [_text(title, size="Medium", weight="Bolder"), facts_set]
    if waited:
        body.append(_text(f"Waiting for review for {waited}", isSubtle=True))
    summary = f"{title}: {facts['vendor']}, {facts['amount']}"
    card = _card(body, "Open invoice", facts["link"], facts.get("take_link"))
    return CardMessage(card=card, summary=summary)


def taken_card(reference: str, taken_by: str, link: str) -> CardMessage:
    """A follow-up: somebody took the invoice (a Teams card cannot be edited in place)."""
    title = f"Invoice {reference} is taken"
    body = [
        _text(title, size="Medium", weight="Bolder"),
        _text(escape_markdown(f"{taken_by} is on it: nothing to do for you.")),
    ]
    return CardMessage(card=_card(body, "Open invoice", link), summary=f"{title} by {taken_by}")


def digest_card(
    count: int, totals: str, listed: Sequence[dict[str, Any]], unlisted: int, queue_link: str
) -> CardMessage:
    """Several invoices: the count and totals, a line for each of the first 20, the queue."""
    title = f"{count} invoices need review"
    body = [_text(title, size="Medium", weight="Bolder"), _text(f"Total: {totals}")]
    body += [_text(f"{f['reference']}: {f['vendor']}, {f['amount']}") for f in listed]
    if unlisted:
        body.append(_text(f"and {unlisted} more", isSubtle=True))
    card = _card(body, "Open the review queue", queue_link)
    return CardMessage(card=card, summary=f"{title} ({totals})")
