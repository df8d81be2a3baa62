"""The fake Slack Web API, driven over real HTTP by the real ``slack_sdk`` AsyncWebClient."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes import FakeSlack, RecordedRequest, Reply, contracts
from tests.fakes.contracts import (
    slack_contract_available,
    validate_slack_request,
    validate_slack_response,
)
from tests.fakes.slack import block_problems, channel_id_for
from tests.helpers import ThrowawayCA

T = TypeVar("T")
TOKEN = "xoxb-1111-2222-test"
CHANNEL = "#ap-review"
TS = re.compile(r"^\d{10}\.\d{6}$")
needs_contract = pytest.mark.skipif(
    not slack_contract_available(), reason="Slack contract not available"
)

BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Invoice 42 needs review"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Acme Ltd* owes *€1,250.00*"}},
    {"type": "divider"},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Matched 3 minutes ago"}]},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open in console"},
                "url": "https://ap.example.com/invoices/42",
                "style": "primary",
            }
        ],
    },
]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one client call on a fresh event loop."""
    return asyncio.run(coro)


def client(fake: FakeSlack, token: str = TOKEN, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.url + "/api/", **kwargs)


def post(fake: FakeSlack, channel: str = CHANNEL, token: str = TOKEN, **kwargs: Any) -> Any:
    kwargs.setdefault("text", "Invoice 42 needs review")
    kwargs.setdefault("blocks", BLOCKS)
    return run(client(fake, token).chat_postMessage(channel=channel, **kwargs))


def refusal(call: Coroutine[Any, Any, Any]) -> SlackApiError:
    """The SlackApiError a call raises."""
    with pytest.raises(SlackApiError) as err:
        run(call)
    return err.value


# --------------------------------------------------------------------------- posting


def test_post_with_text_and_blocks_is_accepted_and_recorded(slack: FakeSlack) -> None:
    response = post(slack)

    assert response.status_code == 200 and response["ok"] is True
    channel_id, ts = response["channel"], response["ts"]
    assert re.fullmatch(r"C[A-Z0-9]{10}", channel_id) and TS.match(ts)
    assert response["message"]["text"] == "Invoice 42 needs review"
    assert response["message"]["blocks"] == BLOCKS
    [rec] = slack.accepted()
    assert rec.method == "POST" and rec.path == "/api/chat.postMessage"
    assert rec.headers["authorization"] == f"Bearer {TOKEN}"
    # slack_sdk sends chat.postMessage as JSON, with the blocks as an array (not a string)
    assert rec.headers["Content-Type"] == "application/json;charset=utf-8"
    assert rec.data == {"channel": CHANNEL, "text": "Invoice 42 needs review", "blocks": BLOCKS}
    assert rec.recipient == CHANNEL and rec.message_id == f"{channel_id}:{ts}"
    assert rec.error is None and rec.reasons == []
    assert slack.accepted_recipients() == [CHANNEL]
    stored = slack.messages[(channel_id, ts)]
    assert (stored.channel, stored.text, stored.blocks, stored.edits) == (
        CHANNEL,
        "Invoice 42 needs review",
        BLOCKS,
        0,
    )
    assert stored.message_id == rec.message_id


def test_channel_names_get_a_stable_id_and_ids_stay(slack: FakeSlack) -> None:
    first, again, bare = post(slack), post(slack), post(slack, channel="ap-review")
    assert first["channel"] == again["channel"] == bare["channel"] == channel_id_for(CHANNEL)
    assert first["ts"] < again["ts"] < bare["ts"]  # unique, increasing
    assert post(slack, channel="#other")["channel"] != first["channel"]
    assert post(slack, channel="C0123456789")["channel"] == "C0123456789"
    assert re.fullmatch(r"D[A-Z0-9]{10}", post(slack, channel="U0123456789")["channel"])
    assert len(slack.messages) == 6


def test_form_encoded_post_is_accepted_too(slack: FakeSlack) -> None:
    data = {"channel": CHANNEL, "text": "hi", "blocks": json.dumps(BLOCKS), "mrkdwn": "true"}
    response = run(client(slack).api_call("chat.postMessage", data=data))

    [rec] = slack.accepted()
    assert rec.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert rec.data["blocks"] == json.dumps(BLOCKS)
    assert slack.messages[(response["channel"], response["ts"])].blocks == BLOCKS


def test_auth_test_answers_the_team_and_bot(slack: FakeSlack) -> None:
    response = run(client(slack).auth_test())
    assert response["ok"] is True
    assert (response["team_id"], response["user_id"], response["bot_id"]) == (
        slack.team_id,
        slack.user_id,
        slack.bot_id,
    )
    assert slack.wait_for(1)[0].path == "/api/auth.test"


# --------------------------------------------------------------------------- updating


def test_update_changes_the_stored_message(slack: FakeSlack) -> None:
    posted = post(slack)
    key = (posted["channel"], posted["ts"])
    done = [{"type": "section", "text": {"type": "mrkdwn", "text": "Approved by Dana"}}]

    response = run(
        client(slack).chat_update(
            channel=key[0], ts=key[1], text="Invoice 42 approved", blocks=done
        )
    )
    assert response["ok"] is True and (response["channel"], response["ts"]) == key
    assert response["text"] == "Invoice 42 approved"
    assert response["message"]["blocks"] == done

    message = slack.messages[key]
    assert (message.text, message.blocks, message.edits) == ("Invoice 42 approved", done, 1)
    update = slack.accepted()[-1]
    assert update.path == "/api/chat.update" and update.message_id == f"{key[0]}:{key[1]}"
    assert update.recipient == key[0]

    # text only: Slack keeps the blocks the update leaves out
    run(client(slack).chat_update(channel=key[0], ts=key[1], text="Paid"))
    assert (slack.messages[key].text, slack.messages[key].blocks) == ("Paid", done)
    assert slack.messages[key].edits == 2
    assert len(slack.messages) == 1


def test_update_of_an_unknown_message_is_refused(slack: FakeSlack) -> None:
    posted = post(slack)
    c = client(slack)
    err = refusal(c.chat_update(channel=posted["channel"], ts="1700000000.000001", text="x"))
    assert err.response["error"] == "message_not_found"
    # chat.update takes the channel id the post answered, not its name
    err = refusal(c.chat_update(channel=CHANNEL, ts=posted["ts"], text="x"))
    assert err.response["error"] == "channel_not_found"
    assert [r.error for r in slack.requests] == [None, "message_not_found", "channel_not_found"]
    assert [r.message_id for r in slack.requests[1:]] == [None, None]
    assert slack.messages[(posted["channel"], posted["ts"])].edits == 0


# --------------------------------------------------------------------------- auth


def test_wrong_token_is_invalid_auth(slack: FakeSlack) -> None:
    err = refusal(client(slack, token="xoxb-wrong").chat_postMessage(channel=CHANNEL, text="x"))

    assert err.response.status_code == 200  # Slack refuses with HTTP 200
    assert err.response["ok"] is False and err.response["error"] == "invalid_auth"
    [rec] = slack.requests
    assert rec.status == 200 and rec.error == "invalid_auth" and not rec.accepted
    assert rec.message_id is None and slack.accepted() == [] and slack.messages == {}
    with pytest.raises(AssertionError, match=r"got 0.*-> 200 invalid_auth"):
        slack.wait_for(1, timeout=0.1)
    assert len(slack.wait_for(1, timeout=0.1, accepted=False)) == 1


def test_missing_token_is_not_authed(slack: FakeSlack) -> None:
    err = refusal(AsyncWebClient(base_url=slack.api_url).auth_test())
    assert err.response["error"] == "not_authed"


def test_revoke_makes_every_later_call_token_revoked(slack: FakeSlack) -> None:
    post(slack)
    slack.revoke()
    assert slack.revoked
    for call in (
        client(slack).auth_test(),
        client(slack).chat_postMessage(channel=CHANNEL, text="x"),
    ):
        assert refusal(call).response["error"] == "token_revoked"
    assert [r.error for r in slack.requests] == [None, "token_revoked", "token_revoked"]

    slack.reset()
    assert not slack.revoked and slack.requests == [] and slack.messages == {}
    assert post(slack)["ok"] is True


# --------------------------------------------------------------------------- errors


def test_fail_channel_answers_a_slack_error(slack: FakeSlack) -> None:
    slack.fail_channel("#gone")
    err = refusal(client(slack).chat_postMessage(channel="#gone", text="x"))
    assert err.response.status_code == 200 and err.response["error"] == "channel_not_found"
    # the same channel without '#', or by its id, fails too; others don't
    for same in ("gone", channel_id_for("#gone")):
        err = refusal(client(slack).chat_postMessage(channel=same, text="x"))
        assert err.response["error"] == "channel_not_found"
    post(slack)

    slack.fail_channel(CHANNEL, "is_archived")
    err = refusal(client(slack).chat_postMessage(channel=CHANNEL, text="x"))
    assert err.response["error"] == "is_archived"
    slack.fail_channel("#gone", None)
    slack.fail_channel(CHANNEL, None)
    post(slack, channel="gone")
    assert slack.accepted_recipients() == [CHANNEL, "gone"]
    errors = [r.error for r in slack.requests]
    assert errors == ["channel_not_found"] * 3 + [None, "is_archived", None]


def test_fail_recipient_with_a_scripted_slack_error(slack: FakeSlack) -> None:
    slack.fail_recipient("#frozen", Reply(200, body={"ok": False, "error": "restricted_action"}))
    err = refusal(client(slack).chat_postMessage(channel="#frozen", text="x"))
    assert err.response["error"] == "restricted_action"
    [rec] = slack.requests
    assert rec.error == "restricted_action" and rec.message_id is None
    assert slack.messages == {}  # a refused post stores nothing


def test_scripted_429_with_retry_after_reaches_the_client(slack: FakeSlack) -> None:
    slack.script(Reply(429, headers={"Retry-After": "30"}))
    err = refusal(client(slack).chat_postMessage(channel=CHANNEL, text="x"))

    assert err.response.status_code == 429
    assert err.response.headers["Retry-After"] == "30"
    assert err.response["error"] == "ratelimited"
    assert post(slack)["ok"] is True  # the script is used up
    assert [(r.status, r.error) for r in slack.requests] == [(429, "ratelimited"), (200, None)]


def test_scripted_success_still_posts_a_message(slack: FakeSlack) -> None:
    slack.script(Reply(200, headers={"X-Extra": "1"}))
    response = post(slack)
    assert response.headers["X-Extra"] == "1"
    assert (response["channel"], response["ts"]) in slack.messages


def test_unknown_method_is_404(slack: FakeSlack) -> None:
    err = refusal(client(slack).conversations_list())
    assert err.response.status_code == 404
    assert err.response["error"] == "unknown_method"


# --------------------------------------------------------------------------- validation


def _button(text: str = "Open", url: str = "https://ap.example.com/i/42") -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [{"type": "button", "text": {"type": "plain_text", "text": text}, "url": url}],
    }


@pytest.mark.parametrize(
    ("blocks", "reason"),
    [
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
            "blocks/0/text/text: at most 150 characters (got 151)",
        ),
        (
            [{"type": "header", "text": {"type": "mrkdwn", "text": "*x*"}}],
            "blocks/0/text/type: must be plain_text (got 'mrkdwn')",
        ),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            "blocks/0/text/text: at most 3000 characters (got 3001)",
        ),
        ([{"type": "video"}], "blocks/0/type: unknown block type 'video'"),
        ([_button(text="x" * 76)], "blocks/0/elements/0/text/text: at most 75 characters (got 76)"),
        (
            [_button(url="https://ap.example.com/" + "x" * 3000)],
            "blocks/0/elements/0/url: at most 3000 characters (got 3023)",
        ),
        ([{"type": "divider"}] * 51, "blocks: at most 50 blocks (got 51)"),
        ({"type": "divider"}, "blocks: not a JSON array"),
    ],
)
def test_invalid_blocks_are_refused_as_invalid_arguments(
    slack: FakeSlack, blocks: Any, reason: str
) -> None:
    err = refusal(client(slack).chat_postMessage(channel=CHANNEL, text="x", blocks=blocks))

    assert err.response.status_code == 200
    assert err.response["error"] == "invalid_arguments"
    messages = err.response["response_metadata"]["messages"]
    assert any(m.startswith(f"[ERROR] {reason}") for m in messages), messages
    [rec] = slack.requests
    assert rec.error == "invalid_arguments" and not rec.accepted
    assert any(r.startswith(reason) for r in rec.reasons), rec.reasons
    assert slack.problems(rec) == rec.reasons
    assert slack.messages == {}


def test_block_problems_accepts_the_known_blocks() -> None:
    assert block_problems(BLOCKS) == []
    assert block_problems(json.dumps(BLOCKS)) == []
    assert block_problems([{"type": "section"}]) == ["blocks/0: a section needs text or fields"]


def test_update_blocks_are_checked_too(slack: FakeSlack) -> None:
    posted = post(slack)
    bad = [{"type": "header", "text": {"type": "plain_text", "text": ""}}]
    err = refusal(
        client(slack).chat_update(channel=posted["channel"], ts=posted["ts"], text="x", blocks=bad)
    )
    assert err.response["error"] == "invalid_arguments"
    assert slack.messages[(posted["channel"], posted["ts"])].blocks == BLOCKS


def test_a_post_without_text_or_blocks_is_no_text(slack: FakeSlack) -> None:
    err = refusal(client(slack).api_call("chat.postMessage", json={"channel": CHANNEL}))
    assert err.response["error"] == "no_text"


@needs_contract
def test_arguments_the_spec_does_not_list_are_refused(slack: FakeSlack) -> None:
    c = client(slack)
    err = refusal(c.chat_postMessage(channel=CHANNEL, text="x", colour="red"))
    assert err.response["error"] == "invalid_arguments"
    assert "colour: not an argument of chat.postMessage" in slack.requests[0].reasons

    err = refusal(c.api_call("chat.update", json={"channel": "C0123456789", "text": "x"}))
    assert err.response["error"] == "invalid_arguments"
    assert slack.requests[1].reasons == ["ts: required"]


@needs_contract
def test_requests_and_answers_match_the_official_contract(slack: FakeSlack) -> None:
    posted = post(slack, unfurl_links=False)
    run(client(slack).chat_update(channel=posted["channel"], ts=posted["ts"], text="Approved"))
    auth = run(client(slack).auth_test())
    post_rec, update_rec = slack.accepted()[:2]

    assert validate_slack_request(post_rec)["unfurl_links"] is False
    assert validate_slack_request(update_rec)["text"] == "Approved"
    validate_slack_response("chat.postMessage", posted.data)
    validate_slack_response("auth.test", auth.data)
    with pytest.raises(SlackApiError) as err:
        post(slack, token="xoxb-nope")
    validate_slack_response("chat.postMessage", err.value.response.data, status="default")

    bad = RecordedRequest(
        "POST",
        "/api/chat.postMessage",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"text=hi&as_user=true&link_names=maybe",
        0.0,
    )
    with pytest.raises(AssertionError, match="channel: required") as failure:
        validate_slack_request(bad)
    assert "link_names: 'maybe' is not a boolean" in str(failure.value)
    assert "token: required" in str(failure.value)


# --------------------------------------------------------------------------- HTTPS


def test_https_with_the_test_ca(test_ca: ThrowawayCA) -> None:
    with FakeSlack(token=TOKEN, tls=test_ca.server_context) as fake:
        assert fake.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(test_ca.bundle))
        response = run(fake.sdk_client(ssl=context).chat_postMessage(channel=CHANNEL, text="hi"))
        assert response["ok"] is True
        assert fake.accepted_recipients() == [CHANNEL] and fake.handshakes == 1


def test_without_the_contract_only_block_kit_is_checked(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(contracts, "CONTRACTS_DIR", tmp_path)  # no spec there
    assert not slack_contract_available()
    assert post(slack, colour="red")["ok"] is True  # an unknown argument goes unnoticed
    err = refusal(client(slack).chat_postMessage(channel=CHANNEL, text="x", blocks=[{}]))
    assert err.response["error"] == "invalid_arguments"
    assert slack.requests[-1].reasons == [
        "blocks/0/type: unknown block type None (known: header, section, context, actions, divider)"
    ]
