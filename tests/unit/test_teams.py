"""Microsoft Teams, the pure parts: recipients, webhooks, the cards' escaping, pacing."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from reactor.domain.enums import Channel
from reactor.domain.messages import InvoiceView
from reactor.messages.renderer import MessageRenderer
from reactor.messages.teams import escape_markdown
from reactor.policy.recipients import parse_recipients
from reactor.settings.chat import parse_webhooks
from reactor.transports.teams import Pacer

HOSTILE = "**[click](http://evil)** <at>everyone</at> # _x_"


def test_teams_recipients_name_a_webhook() -> None:
    parsed = parse_recipients("teams:Finance, teams:ops_team, teams:, teams:a b")
    assert [(r.channel, r.address) for r in parsed.recipients] == [
        (Channel.TEAMS, "teams:finance"),
        (Channel.TEAMS, "teams:ops_team"),
    ]
    assert len(parsed.rejected) == 2


def test_webhooks_parse_and_a_bad_one_is_named_without_its_url() -> None:
    assert parse_webhooks("finance=https://h.example/x?sig=s1, ops=http://127.0.0.1:9/y") == {
        "finance": "https://h.example/x?sig=s1",
        "ops": "http://127.0.0.1:9/y",
    }
    with pytest.raises(ValueError) as error:
        parse_webhooks("finance=http://h.example/x?sig=SECRET")
    assert "finance" in str(error.value) and "SECRET" not in str(error.value)


def test_a_card_is_adaptive_1_5_and_hostile_text_is_escaped() -> None:
    renderer = MessageRenderer(frontend_base_url="https://ap.example.com")
    message = renderer.teams(InvoiceView("0b7c", "INV-1", HOSTILE, "1250", "EUR", "2026-12-20"))
    card = message.card
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open invoice",
            "url": "https://ap.example.com/invoices/0b7c",
        }
    ]
    body = json.dumps(card)
    assert "**[click](http" not in body and "<at>" not in body
    assert {"title": "Due", "value": "Dec 20, 2026"} in card["body"][1]["facts"]
    assert {"title": "Amount", "value": "€1,250.00"} in card["body"][1]["facts"]
    assert escape_markdown("**[a](b)**") == r"\*\*\[a\]\(b\)\*\*"
    assert escape_markdown("- 12. x") == r"\- 12. x" and escape_markdown("12. x") == r"12\. x"
    digest = renderer.digest_teams(
        [InvoiceView(f"id{n}", f"INV-{n}", "Acme", "10", "USD") for n in range(25)]
    )
    text = json.dumps(digest.card)
    assert "25 invoices need review" in digest.summary and "and 5 more" in text
    assert len(text.encode()) < 28_000  # Teams' card size limit


def test_requests_to_one_webhook_are_paced_at_four_a_second() -> None:
    async def five() -> float:
        pacer = Pacer(4.0)
        started = time.monotonic()
        await asyncio.gather(*(pacer.turn() for _ in range(5)))
        return time.monotonic() - started

    assert asyncio.run(five()) >= 0.99  # the 5th waits four intervals of a quarter second
