"""Slack, the pure parts: recipients, the failure classes, the messages' escaping."""

from __future__ import annotations

import json

import pytest

from reactor.domain.decisions import FailureClass, classify_slack
from reactor.domain.enums import Channel
from reactor.domain.messages import InvoiceView
from reactor.messages.locales import translations
from reactor.messages.renderer import MessageRenderer
from reactor.messages.slack import escape_mrkdwn, left_review_message, taken_message, waited
from reactor.policy.recipients import parse_recipients
from reactor.support.masking import mask_recipient

HOSTILE = "<!channel> <script> *bold* & <http://evil|click>"


def test_slack_recipients_are_channel_names_or_ids_and_nothing_else() -> None:
    parsed = parse_recipients("slack:#ap-review, SLACK:C0123ABCD, slack:ap review, slack:#")
    assert [(r.channel, r.address) for r in parsed.recipients] == [
        (Channel.SLACK, "#ap-review"),
        (Channel.SLACK, "C0123ABCD"),
    ]
    assert len(parsed.rejected) == 2 and all("not a Slack channel" in r for r in parsed.rejected)
    assert mask_recipient("#ap-review") == "#ap-review"  # a channel is nobody's personal data
    assert mask_recipient("C0123ABCD") == "C0123ABCD"


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (200, "channel_not_found", FailureClass.PERMANENT),
        (200, "not_in_channel", FailureClass.PERMANENT),
        (200, "is_archived", FailureClass.PERMANENT),
        (200, "msg_too_long", FailureClass.PERMANENT),
        (200, "invalid_auth", FailureClass.AUTH),
        (200, "token_revoked", FailureClass.AUTH),
        (200, "account_inactive", FailureClass.AUTH),
        (429, "ratelimited", FailureClass.TRANSIENT),
        (503, None, FailureClass.TRANSIENT),
        (200, "internal_error", FailureClass.TRANSIENT),
    ],
)
def test_slack_errors_are_classified_like_the_other_channels(
    status: int, error: str | None, expected: FailureClass
) -> None:
    assert classify_slack(status, error) is expected


def _renderer() -> MessageRenderer:
    return MessageRenderer(frontend_base_url="https://ap.example.com")


def test_hostile_invoice_text_pings_nobody_and_stays_text() -> None:
    invoice = InvoiceView("0b7c", "INV-1 <!here>", HOSTILE, "1250", "EUR")
    message = _renderer().slack(invoice)
    assert "<" not in message.text and ">" not in message.text  # mrkdwn: escaped
    assert "&lt;!channel&gt;" in message.text and "&amp;" in message.text
    for block in message.blocks:  # every piece of invoice text is plain_text
        for node in (block.get("text"), *block.get("fields", ()), *block.get("elements", ())):
            if node and "type" in node and node["type"] != "button":
                assert node["type"] == "plain_text", block
    body = json.dumps(message.blocks, ensure_ascii=False)
    assert "mrkdwn" not in body
    assert "€1,250.00" in body and "https://ap.example.com/invoices/0b7c" in body


def test_a_reminder_says_how_long_and_a_digest_lists_twenty_with_totals() -> None:
    invoice = InvoiceView("0b7c", "INV-1", "Acme", "10", "USD")
    reminder = _renderer().slack(invoice, waited_seconds=3 * 3600 + 5)
    assert "Waiting for review for 3 hours" in json.dumps(reminder.blocks)
    invoices = [InvoiceView(f"id{n}", f"INV-{n}", "Acme", "10", "USD") for n in range(25)]
    digest = _renderer().digest_slack(invoices)
    body = json.dumps(digest.blocks)
    assert "25 invoices need review" in digest.text and "$250.00" in digest.text
    assert "INV-19" in body and "INV-20" not in body and "and 5 more" in body
    assert waited(59) == "less than a minute" and waited(86_400 * 2) == "2 days"
    assert escape_mrkdwn("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_corrections_are_translated_with_the_languages_plural_forms_and_stay_text() -> None:
    polish = translations("pl_PL")
    assert left_review_message("INV-1", "APPROVED", 2, polish).text == (
        "Te 2 faktury nie wymagają już weryfikacji"
    )
    assert left_review_message("INV-1", "APPROVED", 5, polish).text == (
        "Tych 5 faktur nie wymaga już weryfikacji"
    )
    english = left_review_message("INV-1", "APPROVED", 1)
    assert english.text == "Invoice INV-1 no longer needs review"
    assert english.blocks[1]["text"]["text"] == "Now APPROVED."
    taken = taken_message("INV-<!here>", "<!channel>", "https://ap.example.com/i/1")
    assert "<!" not in taken.text and "&lt;!channel&gt;" in taken.text
    assert all(
        block["type"] != "section" or block["text"]["type"] == "plain_text"
        for block in taken.blocks
    )
