"""Slack messages: Block Kit built from the renderer's facts, and mrkdwn escaping.

Every piece of invoice text goes into `plain_text` objects, which Slack never parses
for formatting, links or mentions; the top-level `text` (shown in notifications) is
mrkdwn, so `&`, `<` and `>` are escaped there: `<!channel>` cannot ping anybody.
"""

from __future__ import annotations

import gettext
from typing import Any

from reactor.domain.messages import SLACK_TAKE_ACTION as TAKE_ACTION
from reactor.domain.messages import ChatMessage

HEADER_MAX = 150  # Slack's limit for a header block's text
FIELD_MAX = 2000  # a section field's text (Slack allows 2,000)
BUTTON_MAX = 75

ENGLISH = gettext.NullTranslations()  # the message ids are the English text


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
    label: str,
    url: str,
    take_link: str | None = None,
    take_token: str | None = None,
    take_label: str = "I'll take it",
) -> dict[str, Any]:
    """The actions block: the link button, and the take button when there is one: Slack's
    own (an interaction carrying the signed token) or else a link to the take page."""
    elements = [{"type": "button", "text": _plain(label, BUTTON_MAX), "url": url}]
    take = {"type": "button", "text": _plain(take_label, BUTTON_MAX)}
    if take_token:
        elements.append({**take, "action_id": TAKE_ACTION, "value": take_token})
    elif take_link:
        elements.append({**take, "url": take_link})
    return {"type": "actions", "elements": elements}


def invoice_message(
    facts: dict[str, Any], reminder: str | None, words: gettext.NullTranslations = ENGLISH
) -> ChatMessage:
    """One invoice: a header, vendor and amount, how long it waited, the link button (and
    the take button: `take_token` for Slack's own, else `take_link`), in `words`' language."""
    _ = words.gettext
    reference = facts["reference"]
    title = (
        _("Reminder: invoice %(reference)s still needs review") % {"reference": reference}
        if reminder
        else _("Invoice %(reference)s needs review") % {"reference": reference}
    )
    fields = [
        _plain(f"{_('Vendor')}: {facts['vendor']}"),
        _plain(f"{_('Amount')}: {facts['amount']}"),
    ]
    if facts.get("due_date"):
        fields.append(_plain(f"{_('Due')}: {facts['due_date']}"))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title, HEADER_MAX)},
        {"type": "section", "fields": fields},
    ]
    if reminder:
        waiting = _("Waiting for review for %(waited)s") % {"waited": reminder}
        blocks.append({"type": "context", "elements": [_plain(waiting)]})
    take = _("I'll take it")
    blocks.append(
        _button(
            _("Open invoice"), facts["link"], facts.get("take_link"), facts.get("take_token"), take
        )
    )
    text = f"{title}: {facts['vendor']}, {facts['amount']}"
    return ChatMessage(text=escape_mrkdwn(text), blocks=tuple(blocks))


def left_review_message(
    reference: str, status: str, invoices: int, words: gettext.NullTranslations = ENGLISH
) -> ChatMessage:
    """What a message says once its invoices have left review: no button any more."""
    _ = words.gettext
    facts = {"reference": reference, "status": status, "num": invoices}
    if invoices == 1:
        title = _("Invoice %(reference)s no longer needs review") % facts
        detail = _("Now %(status)s.") % facts
    else:
        title = (
            words.ngettext(
                "This %(num)s invoice no longer needs review",
                "These %(num)s invoices no longer need review",
                invoices,
            )
            % facts
        )
        detail = _("None of them is waiting for review (for example %(reference)s: %(status)s).")
        detail %= facts
    blocks = (
        {"type": "header", "text": _plain(title, HEADER_MAX)},
        {"type": "section", "text": _plain(detail)},
    )
    return ChatMessage(text=escape_mrkdwn(title), blocks=blocks)


def taken_message(
    reference: str, taken_by: str, link: str, words: gettext.NullTranslations = ENGLISH
) -> ChatMessage:
    """What a message says once somebody took its invoice: who, and no take button."""
    _ = words.gettext
    facts = {"reference": reference, "taken_by": taken_by}
    title = _("Invoice %(reference)s is taken") % facts
    blocks = (
        {"type": "header", "text": _plain(title, HEADER_MAX)},
        {"type": "section", "text": _plain(_("%(taken_by)s is on it.") % facts)},
        _button(_("Open invoice"), link),
    )
    said = _("Invoice %(reference)s is taken: %(taken_by)s is on it.") % facts
    return ChatMessage(text=escape_mrkdwn(said), blocks=blocks)


def digest_message(facts: dict[str, Any], words: gettext.NullTranslations = ENGLISH) -> ChatMessage:
    """Several invoices: the count and totals, one line each for the first 20, the queue."""
    _ = words.gettext
    title = words.ngettext(
        "%(num)s invoice needs review", "%(num)s invoices need review", facts["count"]
    ) % {"num": facts["count_text"]}
    lines = [f"{f['reference']}: {f['vendor']}, {f['amount']}" for f in facts["listed"]]
    if facts["unlisted"]:
        lines.append(_("...and %(unlisted)s more") % {"unlisted": facts["unlisted_text"]})
    totals = facts["totals"]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title, HEADER_MAX)},
        {"type": "section", "text": _plain(f"{_('Total:')} {totals}")},
        {"type": "section", "text": _plain("\n".join(lines))},
        _button(_("Open the review queue"), facts["queue_link"]),
    ]
    return ChatMessage(text=escape_mrkdwn(f"{title} ({totals})"), blocks=tuple(blocks))
