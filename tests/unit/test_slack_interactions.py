"""Slack's interactions without a database: the v0 signature, the payload, the button."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from reactor.messages.slack import invoice_message
from reactor.support.masking import mask_recipient
from reactor.support.slack_interactions import (
    TAKE_ACTION,
    payload_of,
    signature_problem,
    take_press,
)
from tests.fakes.slack import block_problems

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000.0


def _sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _press(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0123ABCD", "username": "alice", "name": "alice", "team_id": "T1"},
        "response_url": "https://hooks.slack.com/actions/T1/1/abc",
        "actions": [
            {"action_id": "open", "type": "button", "value": "x"},
            {"action_id": TAKE_ACTION, "type": "button", "value": "12.1700000000.mac"},
        ],
    }
    payload.update(changes)
    return payload


def test_only_a_recent_body_signed_with_the_secret_passes() -> None:
    body = urlencode({"payload": json.dumps(_press())}).encode()
    stamp = str(int(NOW))
    signature = _sign(body, stamp)
    assert signature_problem(SECRET, body, stamp, signature, now=NOW) is None
    assert signature_problem(SECRET, body, stamp, signature, now=NOW + 299) is None
    assert signature_problem(SECRET, body, stamp, signature, now=NOW + 301) == "stale"
    assert signature_problem(SECRET, body, stamp, signature, now=NOW - 301) == "stale"
    other = _sign(body, stamp, secret="another-secret-of-the-same-size!")
    assert signature_problem(SECRET, body, stamp, other, now=NOW) == "signature"
    assert signature_problem(SECRET, body + b"x", stamp, signature, now=NOW) == "signature"
    assert signature_problem(SECRET, body, str(int(NOW) + 1), signature, now=NOW) == "signature"
    for stamp_, signature_ in (("", signature), (stamp, ""), ("12a", signature), (stamp, "v1=")):
        assert signature_problem(SECRET, body, stamp_, signature_, now=NOW) == "signature"
    latin = b"payload=\xff"
    assert signature_problem(SECRET, latin, stamp, _sign(latin, stamp), now=NOW) == "signature"
    # The real clock: a body signed just now passes.
    stamp = str(int(time.time()))
    assert signature_problem(SECRET, body, stamp, _sign(body, stamp)) is None


def test_the_payload_is_read_from_the_form_and_the_take_press_found_in_it() -> None:
    assert payload_of(urlencode({"payload": json.dumps(_press())}).encode()) == _press()
    for body in (b"", b"payload=not-json", b"payload=%5B%5D", b"other=1", b"payload=1&payload=2"):
        assert payload_of(body) is None, body
    press = take_press(_press())
    assert press is not None
    assert press.token == "12.1700000000.mac" and press.user_id == "U0123ABCD"
    assert press.taken_by == "slack:U0123ABCD (alice)"
    assert press.response_url == "https://hooks.slack.com/actions/T1/1/abc"


def test_a_payload_without_the_take_press_or_a_member_is_none() -> None:
    assert take_press(_press(type="view_submission")) is None
    assert take_press(_press(actions=[{"action_id": "open", "value": "x"}])) is None
    assert take_press(_press(actions=[{"action_id": TAKE_ACTION, "value": ""}])) is None
    assert take_press(_press(user={"id": "not a user"})) is None
    assert take_press(_press(user="U0123ABCD")) is None
    assert take_press(_press(actions="nope")) is None


def test_the_members_name_is_printable_short_and_never_needed() -> None:
    hostile = {"id": "U0123ABCD", "username": "\x1b[31m(evil)\n" + "x" * 200}
    press = take_press(_press(user=hostile))
    assert press is not None
    assert press.taken_by == "slack:U0123ABCD ([31mevil" + "x" * 72 + ")"
    nameless = take_press(_press(user={"id": "W0123ABCD"}))
    assert nameless is not None and nameless.taken_by == "slack:W0123ABCD"
    assert mask_recipient("slack:U0123ABCD (alice@example.com)") == "slack:U0123ABCD"


def _facts(**extra: Any) -> dict[str, Any]:
    return {
        "reference": "INV-1",
        "vendor": "Acme",
        "amount": str(Decimal("12.50")) + " EUR",
        "link": "https://erp.example.com/invoices/1",
        **extra,
    }


def _take_button(facts: dict[str, Any]) -> dict[str, Any]:
    message = invoice_message(facts, None)
    assert not block_problems(list(message.blocks))
    (actions,) = [b for b in message.blocks if b["type"] == "actions"]
    (take,) = [e for e in actions["elements"] if e["text"]["text"] == "I'll take it"]
    return take  # type: ignore[no-any-return]


def test_the_take_button_is_slacks_own_with_a_token_and_a_link_without() -> None:
    link = "https://reactor.example.com/take/1.2.mac"
    own = _take_button(_facts(take_link=link, take_token="1.2.mac"))
    assert own == {
        "type": "button",
        "text": {"type": "plain_text", "text": "I'll take it", "emoji": False},
        "action_id": TAKE_ACTION,
        "value": "1.2.mac",
    }
    assert _take_button(_facts(take_link=link))["url"] == link
