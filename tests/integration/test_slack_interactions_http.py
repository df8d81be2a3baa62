"""Slack's own take button, in process on a real database: the message is sent to a fake
Slack by the real dispatcher, its button pressed by signed interactions posted to the
web app (built by the same wiring as `reactor run`), the corrector run by hand.

Unsigned, stale and foreign-signed requests get 403 and change nothing; a token the
reactor did not sign changes nothing; the first press takes the invoice for the member
who pressed, a second one is told who has it (through the interaction's response_url).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from reactor.runtime.wiring import Service
from reactor.support import take_links
from tests.fakes.slack import FakeSlack
from tests.helpers import in_process_app, insert_invoices, query, scalar

SIGNING = "slack-signing-secret-" + "3" * 20
LINKS = "take-link-secret-" + "s" * 32
PATH = "/webhooks/slack/interactions"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def app(
    reactor_env: dict[str, str], slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Service]]:
    env = {**reactor_env, "NOTIFICATION_RECIPIENTS": "slack:#ap-review"}
    yield from _app(env, slack, monkeypatch)


GERMAN_CHANNEL = """
[[rule]]
name = "ap"
notify = ["slack:#ap-review"]

[[recipient]]
address = "slack:#ap-review"
locale = "de-DE"
"""


@pytest.fixture
def german_app(
    reactor_env: dict[str, str],
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[tuple[TestClient, Service]]:
    rules = tmp_path / "rules.toml"
    rules.write_text(GERMAN_CHANNEL)
    env = {**reactor_env, "NOTIFICATION_RULES_FILE": str(rules)}
    yield from _app(env, slack, monkeypatch)


def _app(
    env: dict[str, str], slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Service]]:
    env = {
        **env,
        "SLACK_TRANSPORT": "slack",
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
        "SLACK_SIGNING_SECRET": SIGNING,
        "PUBLIC_BASE_URL": "http://127.0.0.1:8080",
        "LINK_SECRET_KEY": LINKS,
    }
    with in_process_app(env, monkeypatch) as (client, service):
        yield client, service
        client.portal.call(service.dispatcher.stop, 1)


def _body(token: str, user: str, name: str, response_url: str) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": name, "name": name, "team_id": "T0FAKETEAM"},
        "response_url": response_url,
        "actions": [{"action_id": "take_invoice", "type": "button", "value": token}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def _headers(body: bytes, secret: str = SIGNING, age: float = 0.0) -> dict[str, str]:
    stamp = str(int(time.time() - age))
    signature = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        **FORM,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + signature.hexdigest(),
    }


def _sent(
    client: TestClient,
    service: Service,
    slack: FakeSlack,
    database_url: str,
    button_says: str = "I'll take it",
) -> Any:
    """The take button of the one Slack message the dispatcher sent for a new invoice."""
    (invoice,) = insert_invoices(database_url, 1, status="NEEDS_REVIEW")
    client.portal.call(service.dispatcher.drain_until_idle)
    (posted,) = slack.wait_for(1)
    (actions,) = [b for b in posted.json()["blocks"] if b["type"] == "actions"]
    (button,) = [e for e in actions["elements"] if e.get("action_id") == "take_invoice"]
    assert "url" not in button and button["text"]["text"] == button_says
    assert take_links.verify(LINKS.encode(), button["value"], 60) is not None
    return invoice, button["value"]


def _taken(database_url: str, invoice: str) -> list[tuple]:
    return query(
        database_url,
        "SELECT taken_by, taken_via FROM review_episodes WHERE invoice_id = %s"
        " AND taken_at IS NOT NULL",
        (invoice,),
    )


def _takes_counted() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("reactor_takes_total", {"channel": "slack"}) or 0.0


def test_a_signed_press_takes_the_invoice_for_the_member_and_the_message_says_so(
    app: tuple[TestClient, Service], slack: FakeSlack, database_url: str
) -> None:
    client, service = app
    invoice, token = _sent(client, service, slack, database_url)
    counted = _takes_counted()
    body = _body(token, "U0ALICE001", "alice", slack.response_url("first"))
    answer = client.post(PATH, content=body, headers=_headers(body))
    assert answer.status_code == 200 and "is yours" in answer.json()["text"]
    assert _taken(database_url, invoice) == [("slack:U0ALICE001 (alice)", "slack")]
    assert _takes_counted() == counted + 1
    assert slack.responses() == [
        {"response_type": "ephemeral", "replace_original": False, "text": "Invoice INV-1 is yours."}
    ]
    # A second press, by somebody else, is told who has it and changes nothing.
    body = _body(token, "U0BOB00001", "bob", slack.response_url("second"))
    answer = client.post(PATH, content=body, headers=_headers(body))
    assert answer.status_code == 200
    said = "Invoice INV-1 is already taken by slack:U0ALICE001 (alice)."
    assert answer.json()["text"] == said and slack.responses()[-1]["text"] == said
    assert _taken(database_url, invoice) == [("slack:U0ALICE001 (alice)", "slack")]
    assert _takes_counted() == counted + 1
    # The corrector rewrites the channel's message: who has it, and no take button.
    assert service.corrector is not None
    assert client.portal.call(service.corrector.correct_once) == 1
    (message,) = slack.messages.values()
    assert message.edits == 1
    assert message.text == "Invoice INV-1 is taken: slack:U0ALICE001 (alice) is on it."
    assert "take_invoice" not in json.dumps(message.blocks)


def test_the_corrections_speak_the_channels_language(
    german_app: tuple[TestClient, Service], slack: FakeSlack, database_url: str
) -> None:
    client, service = german_app
    invoice, token = _sent(client, service, slack, database_url, "Ich übernehme das")
    body = _body(token, "U0ALICE001", "alice", slack.response_url("first"))
    assert client.post(PATH, content=body, headers=_headers(body)).status_code == 200
    assert service.corrector is not None
    assert client.portal.call(service.corrector.correct_once) == 1
    (message,) = slack.messages.values()
    said = json.dumps(message.blocks, ensure_ascii=False)
    assert message.text == (
        "Rechnung INV-1 wurde übernommen: slack:U0ALICE001 (alice) kümmert sich darum."
    )
    assert "slack:U0ALICE001 (alice) kümmert sich darum." in said and "Rechnung öffnen" in said
    # Then the invoice leaves review: the message says so, in German, with no button.
    query(database_url, "UPDATE invoices SET matched_status = 'APPROVED' WHERE id = %s", (invoice,))
    assert client.portal.call(service.corrector.correct_once) == 1
    (message,) = slack.messages.values()
    said = json.dumps(message.blocks, ensure_ascii=False)
    assert message.edits == 2
    assert message.text == "Rechnung INV-1 muss nicht mehr geprüft werden"
    assert "Jetzt APPROVED." in said and "button" not in said


def test_unsigned_stale_and_foreign_signed_presses_get_403_and_change_nothing(
    app: tuple[TestClient, Service], slack: FakeSlack, database_url: str
) -> None:
    client, service = app
    invoice, token = _sent(client, service, slack, database_url)
    body = _body(token, "U0MALLORY1", "mallory", slack.response_url())
    signed = _headers(body)
    refusals = {
        "unsigned": FORM,
        "no timestamp": {**FORM, "X-Slack-Signature": signed["X-Slack-Signature"]},
        "stale": _headers(body, age=301),
        "another secret": _headers(body, secret="another-signing-secret-" + "9" * 20),
        "another body": signed,
    }
    for what, headers in refusals.items():
        sent = body + b"&x=1" if what == "another body" else body
        assert client.post(PATH, content=sent, headers=headers).status_code == 403, what
    assert _taken(database_url, invoice) == [] and slack.responses() == []
    too_large = b"payload=" + b"x" * (1 << 20)
    assert client.post(PATH, content=too_large, headers=_headers(too_large)).status_code == 413
    not_a_form = b"{}"
    assert client.post(PATH, content=not_a_form, headers=_headers(not_a_form)).status_code == 400
    taken = "SELECT count(*) FROM review_episodes WHERE taken_at IS NOT NULL"
    assert scalar(database_url, taken) == 0


def test_a_token_the_reactor_did_not_sign_changes_nothing(
    app: tuple[TestClient, Service], slack: FakeSlack, database_url: str
) -> None:
    client, service = app
    invoice, token = _sent(client, service, slack, database_url)
    delivery = take_links.verify(LINKS.encode(), token, 60)
    assert delivery is not None
    forged = [
        take_links.sign(b"another-link-secret-" + b"x" * 32, delivery),  # a foreign key
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # a changed MAC
        f"{delivery + 1}.{token.split('.')[1]}.{token.split('.')[2]}",  # another delivery
        "not-a-token",
    ]
    for value in forged:
        body = _body(value, "U0MALLORY1", "mallory", slack.response_url())
        answer = client.post(PATH, content=body, headers=_headers(body))
        assert answer.status_code == 200, value
        assert answer.json()["text"] == "This button is not valid any more."
    assert _taken(database_url, invoice) == []
    # Another interaction of the app (not the take button) is acknowledged, and ignored.
    other = urlencode({"payload": json.dumps({"type": "view_submission"})}).encode()
    answer = client.post(PATH, content=other, headers=_headers(other))
    assert answer.status_code == 200 and answer.content == b""
    assert _taken(database_url, invoice) == []
