"""Microsoft Teams messages: Adaptive Cards (schema 1.5) built from the renderer's facts.

A TextBlock's text is a Markdown subset in Teams, so invoice text is escaped with
backslashes before it goes in: a vendor called `**[click](http://evil)**` reads as
typed. A card stays well under Teams' 28 KB: a digest lists 20 invoices, each line cut.
"""

from __future__ import annotations

import gettext
import re
from typing import Any

from reactor.domain.messages import CardMessage

ENGLISH = gettext.NullTranslations()  # the message ids are the English text
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
    body: list[dict[str, Any]],
    label: str,
    url: str,
    take_link: str | None = None,
    take_label: str = "I'll take it",
) -> dict[str, Any]:
    actions = [{"type": "Action.OpenUrl", "title": label, "url": url}]
    if take_link:
        actions.append({"type": "Action.OpenUrl", "title": take_label, "url": take_link})
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "body": body,
        "actions": actions,
    }


def invoice_card(
    facts: dict[str, Any], waited: str | None, words: gettext.NullTranslations = ENGLISH
) -> CardMessage:
    """One invoice: a title, the vendor and amount, how long it waited, the link."""
    _ = words.gettext
    reference = facts["reference"]
    title = (
        _("Reminder: invoice %(reference)s still needs review") % {"reference": reference}
        if waited
        else _("Invoice %(reference)s needs review") % {"reference": reference}
    )
    facts_set = {
        "type": "FactSet",
        "facts": [
            {"title": _("Vendor"), "value": escape_markdown(facts["vendor"][:LINE_MAX])},
            {"title": _("Amount"), "value": escape_markdown(facts["amount"])},
            *(
                [{"title": _("Due"), "value": escape_markdown(facts["due_date"])}]
                if facts.get("due_date")
                else []
            ),
        ],
    }
    body = [_text(title, size="Medium", weight="Bolder"), facts_set]
    if waited:
        waiting = _("Waiting for review for %(waited)s") % {"waited": waited}
        body.append(_text(waiting, isSubtle=True))
    summary = f"{title}: {facts['vendor']}, {facts['amount']}"
    card = _card(body, _("Open invoice"), facts["link"], facts.get("take_link"), _("I'll take it"))
    return CardMessage(card=card, summary=summary)


def taken_card(
    reference: str, taken_by: str, link: str, words: gettext.NullTranslations = ENGLISH
) -> CardMessage:
    """A follow-up: somebody took the invoice (a Teams card cannot be edited in place)."""
    _ = words.gettext
    title = _("Invoice %(reference)s is taken") % {"reference": reference}
    said = _("Invoice %(reference)s is taken by %(taken_by)s: nothing to do for you.") % {
        "reference": reference,
        "taken_by": taken_by,
    }
    body = [_text(title, size="Medium", weight="Bolder"), _text(said)]
    return CardMessage(card=_card(body, _("Open invoice"), link), summary=said)


def digest_card(facts: dict[str, Any], words: gettext.NullTranslations = ENGLISH) -> CardMessage:
    """Several invoices: the count and totals, a line for each of the first 20, the queue."""
    _ = words.gettext
    title = words.ngettext(
        "%(num)s invoice needs review", "%(num)s invoices need review", facts["count"]
    ) % {"num": facts["count_text"]}
    totals = facts["totals"]
    body = [_text(title, size="Medium", weight="Bolder"), _text(f"{_('Total:')} {totals}")]
    body += [_text(f"{f['reference']}: {f['vendor']}, {f['amount']}") for f in facts["listed"]]
    if facts["unlisted"]:
        more = _("...and %(unlisted)s more") % {"unlisted": facts["unlisted_text"]}
        body.append(_text(more, isSubtle=True))
    card = _card(body, _("Open the review queue"), facts["queue_link"])
    return CardMessage(card=card, summary=f"{title} ({totals})")
