"""Slack end to end: a real `reactor run`, the real slack_sdk, a fake Slack Web API.

The fake validates every call against Slack's published OpenAPI description (when
../shared/contracts is there) and checks the Block Kit it receives.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.fakes import FakeSendGrid, Reply
from tests.fakes.slack import FakeSlack
from tests.helpers import (
    EMAILS,
    ReactorProcess,
    free_port,
    insert_invoices,
    query,
    retried_later,
    scalar,
    wait_until,
)

CHANNEL = "#ap-review"
HOSTILE = "<!channel> <script> *bold* & <http://evil|click>"
FLIP = "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = ANY(%s::uuid[])"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def _env(reactor_env: dict[str, str], slack: FakeSlack, **extra: str) -> dict[str, str]:
    return {
        **reactor_env,
        "NOTIFICATION_RECIPIENTS": f"slack:{CHANNEL},{EMAILS[0]}",
        "SLACK_TRANSPORT": "slack",
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
        **extra,
    }


def _slack_rows(url: str) -> list[tuple]:
    return query(
        url,
        "SELECT status, provider_message_id, error_message FROM notifications"
        " WHERE method = 'slack' ORDER BY id",
    )


def test_an_invoice_reaches_the_channel_as_blocks_and_hostile_text_pings_nobody(
    reactor_env: dict[str, str], database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    (invoice,) = insert_invoices(database_url, 1, vendor=HOSTILE)
    query(database_url, "UPDATE invoices SET due_date = '2026-12-20' WHERE id = %s", (invoice,))
    process = ReactorProcess(_env(reactor_env, slack), tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, ([invoice],))
        (posted,) = slack.wait_for(1)
        wait_until(lambda: [r[0] for r in _slack_rows(database_url)] == ["SENT"], what="SENT")
        metrics = process.get("/metrics").text
    finally:
        process.stop()
    assert posted.recipient == CHANNEL
    ((_, message_id, _),) = _slack_rows(database_url)
    assert message_id == posted.message_id and message_id.count(":") == 1  # channel:ts
    body = posted.json()
    assert "<!channel>" not in body["text"] and "&lt;!channel&gt;" in body["text"]
    blocks = json.dumps(body["blocks"], ensure_ascii=False)
    assert "mrkdwn" not in blocks and HOSTILE in blocks  # as plain text, shown as typed
    assert f"https://ap.example.com/invoices/{invoice}" in blocks
    assert "Due: Dec 20, 2026" in blocks
    sent = [line for line in metrics.splitlines() if 'channel="slack"' in line]
    assert 'reactor_deliveries_total{channel="slack",outcome="sent"} 1.0' in sent, sent
    assert slack.token not in process.output()


def test_a_bulk_goes_to_the_channel_as_one_digest(
    reactor_env: dict[str, str], database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    invoices = insert_invoices(database_url, 50)
    env = _env(reactor_env, slack, DIGEST_WINDOW_SECONDS="300")
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, (invoices,))
        wait_until(
            lambda: (
                scalar(
                    database_url,
                    "SELECT count(*) FROM notifications WHERE method = 'slack' AND status = 'SENT'",
                )
                == 50
            ),
            what="all 50 recorded",
        )
    finally:
        process.stop()
    (digest,) = slack.accepted()
    assert "50 invoices need review" in digest.json()["text"]
    assert "and 30 more" in json.dumps(digest.json()["blocks"])


def test_a_missing_channel_fails_the_row_and_a_429_waits_its_retry_after(
    reactor_env: dict[str, str], database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    env = _env(reactor_env, slack, RETRY_BASE_SECONDS="60")
    first, second = insert_invoices(database_url, 2)
    slack.fail_channel(CHANNEL, "channel_not_found")
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, ([first],))
        wait_until(lambda: [r[0] for r in _slack_rows(database_url)] == ["FAILED"], what="FAILED")
        assert "channel_not_found" in _slack_rows(database_url)[0][2]
        slack.fail_channel(CHANNEL, None)
        slack.script(Reply(status=429, headers={"Retry-After": "7200"}))
        query(database_url, FLIP, ([second],))
        due = retried_later(database_url, "slack", second)
    finally:
        process.stop()
    assert due.total_seconds() > 3600  # Slack's Retry-After, not the 60 s backoff


def test_a_revoked_token_pauses_only_the_slack_channel(
    reactor_env: dict[str, str],
    database_url: str,
    slack: FakeSlack,
    sendgrid: FakeSendGrid,
    tmp_path: Path,
) -> None:
    (invoice,) = insert_invoices(database_url, 1)
    slack.revoke()
    process = ReactorProcess(_env(reactor_env, slack), tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, ([invoice],))
        sendgrid.wait_for(1)  # email goes on
        transports = wait_until(
            lambda: (
                (t := process.get("/health/status").json()["transports"])["slack"][
                    "last_failure_class"
                ]
                == "auth"
                and t
            ),
            what="the revoked token seen",
        )
        assert transports["slack"]["paused_for_seconds"] > 0
        assert transports["email"]["paused_for_seconds"] == 0
        assert [r[0] for r in _slack_rows(database_url)] == ["PENDING"]  # waits, not lost
    finally:
        process.stop()
    assert slack.token not in process.output()


def test_a_message_is_corrected_in_place_once_its_invoices_left_review(
    reactor_env: dict[str, str], database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    single, *bulk = insert_invoices(database_url, 4)
    # After the first message, the next ones wait for the window's end: one digest.
    env = _env(reactor_env, slack, DIGEST_WINDOW_SECONDS="3")
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    out = "UPDATE invoices SET matched_status = 'APPROVED' WHERE id = ANY(%s::uuid[])"

    def message(invoice: str) -> object:
        (message_id,) = {
            r[0]
            for r in query(
                database_url,
                "SELECT provider_message_id FROM notifications"
                " WHERE method = 'slack' AND invoice_id = %s",
                (invoice,),
            )
        }
        return next(m for m in slack.messages.values() if m.message_id == message_id)

    try:
        query(database_url, FLIP, ([single],))
        slack.wait_for(1)
        query(database_url, FLIP, (bulk,))  # within the window: one digest of three
        slack.wait_for(2, timeout=20)
        query(database_url, out, ([single, *bulk[:2]],))
        corrected = wait_until(
            lambda: (m := message(single)).edits == 1 and m, what="the single one corrected"
        )
        assert "no longer needs review" in corrected.text  # type: ignore[attr-defined]
        assert "APPROVED" in json.dumps(corrected.blocks)  # type: ignore[attr-defined]
        assert "actions" not in json.dumps(corrected.blocks)  # no button any more
        assert message(bulk[0]).edits == 0  # a third of the digest is still in review
        query(database_url, out, ([bulk[2]],))
        wait_until(lambda: message(bulk[0]).edits == 1, what="the digest corrected")
    finally:
        process.stop()
    assert "These 3 invoices no longer need review" in message(bulk[0]).text  # type: ignore[attr-defined]
    assert (
        scalar(
            database_url,
            "SELECT count(*) FROM notifications WHERE method = 'slack' AND corrected_at IS NULL",
        )
        == 0
    )


def test_a_channel_given_quiet_hours_in_the_rules_waits_for_their_end(
    reactor_env: dict[str, str], database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    rules = tmp_path / "rules.toml"
    rules.write_text(
        f"""
[[recipient]]
address = "slack:{CHANNEL}"
timezone = "UTC"
quiet_hours = "{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=2)):%H:%M}"

[[rule]]
name = "everyone"
notify = ["slack:{CHANNEL}", "{EMAILS[0]}"]
"""
    )
    env = {**_env(reactor_env, slack), "NOTIFICATION_RULES_FILE": str(rules)}
    del env["NOTIFICATION_RECIPIENTS"]
    (invoice,) = insert_invoices(database_url, 1)
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, ([invoice],))
        held = wait_until(
            lambda: query(
                database_url,
                "SELECT status, held, next_attempt_at > now() + interval '1 hour'"
                " FROM notifications WHERE method = 'slack' AND held IS NOT NULL",
            ),
            what="the Slack message held",
        )
    finally:
        process.stop()
    assert held == [("PENDING", "quiet_hours", True)]
    assert slack.requests == []


def test_a_take_from_the_channel_is_shown_there_and_the_take_button_goes(
    reactor_env: dict[str, str], database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    env = _env(
        reactor_env,
        slack,
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        LINK_SECRET_KEY="take-link-secret-" + "s" * 32,
    )
    (invoice,) = insert_invoices(database_url, 1)
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, ([invoice],))
        (posted,) = slack.wait_for(1)
        (buttons,) = [b["elements"] for b in posted.json()["blocks"] if b["type"] == "actions"]
        take = next(b["url"] for b in buttons if b["text"]["text"] == "I'll take it")
        with httpx.Client(timeout=5) as browser:
            page = browser.get(take)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            assert "is yours" in browser.post(take, data={"csrf": csrf}).text
        (message,) = slack.messages.values()
        noted = wait_until(
            lambda: (m := slack.messages[(message.channel_id, message.ts)]).edits == 1 and m,
            what="the message says who took it",
        )
        assert "is taken" in noted.text and CHANNEL in noted.text
        assert "I'll take it" not in json.dumps(noted.blocks)
        query(
            database_url,
            "UPDATE invoices SET matched_status = 'APPROVED' WHERE id = %s",
            (invoice,),
        )
        wait_until(
            lambda: slack.messages[(message.channel_id, message.ts)].edits == 2,
            what="then that it left review",
        )
    finally:
        process.stop()


def test_slacks_own_take_button_takes_the_invoice_for_the_member_who_pressed(
    reactor_env: dict[str, str], database_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    signing = "slack-signing-secret-" + "7" * 20
    port = free_port()
    env = _env(
        reactor_env,
        slack,
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        LINK_SECRET_KEY="take-link-secret-" + "s" * 32,
        SLACK_SIGNING_SECRET=signing,
    )
    (invoice,) = insert_invoices(database_url, 1)
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, ([invoice],))
        (posted,) = slack.wait_for(1)
        (buttons,) = [b["elements"] for b in posted.json()["blocks"] if b["type"] == "actions"]
        (take,) = [b for b in buttons if b.get("action_id") == "take_invoice"]
        assert "url" not in take
        payload = {
            "type": "block_actions",
            "user": {"id": "U0ALICE001", "username": "alice"},
            "response_url": slack.response_url(),
            "actions": [{"action_id": "take_invoice", "type": "button", "value": take["value"]}],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        stamp = str(int(time.time()))
        mac = hmac.new(signing.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": "v0=" + mac.hexdigest(),
        }
        url = f"{process.base_url}/webhooks/slack/interactions"
        assert httpx.post(url, content=body, headers=headers, timeout=5).status_code == 200
        taken = "SELECT taken_by, taken_via FROM review_episodes WHERE invoice_id = %s"
        assert query(database_url, taken, (invoice,)) == [("slack:U0ALICE001 (alice)", "slack")]
        (message,) = slack.messages.values()
        noted = wait_until(
            lambda: (m := slack.messages[(message.channel_id, message.ts)]).edits == 1 and m,
            what="the message says who took it",
        )
        assert noted.text == "Invoice INV-1 is taken: slack:U0ALICE001 (alice) is on it."
        assert "take_invoice" not in json.dumps(noted.blocks)
        output = process.output()
        assert take["value"] not in output and signing not in output
    finally:
        process.stop()
