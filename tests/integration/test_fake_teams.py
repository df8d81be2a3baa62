"""The fake Teams Workflows webhook, driven over real HTTP by aiohttp (as the reactor's client)."""

from __future__ import annotations

import asyncio
import copy
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from tests.fakes import FakeTeams, Reply, contracts
from tests.fakes.contracts import adaptive_card_contract_available, validate_adaptive_card
from tests.fakes.teams import MAX_BODY, card_problems, peak_rate
from tests.helpers import ThrowawayCA, wait_until

CHANNEL = "finance"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
needs_contract = pytest.mark.skipif(
    not adaptive_card_contract_available(), reason="Adaptive Card schema not available"
)

CARD: dict[str, Any] = {
    "type": "AdaptiveCard",
    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
    "version": "1.5",
    "body": [
        {"type": "TextBlock", "text": "Invoice 42 needs review", "size": "Medium", "wrap": True},
        {
            "type": "FactSet",
            "facts": [{"title": "Vendor", "value": "Acme Ltd"}, {"title": "Amount", "value": "1"}],
        },
    ],
    "actions": [
        {"type": "Action.OpenUrl", "title": "Open invoice", "url": "https://ap.example.com/i/42"}
    ],
}


def envelope(card: Any = CARD) -> dict[str, Any]:
    """The body a Workflows webhook takes: one Adaptive Card attachment."""
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": card}],
    }


def card_with(**changes: Any) -> dict[str, Any]:
    """A copy of CARD with top-level keys changed."""
    return {**copy.deepcopy(CARD), **changes}


@dataclass
class Answer:
    """What the client saw."""

    status: int
    headers: dict[str, str]
    text: str


async def _send(
    session: aiohttp.ClientSession,
    url: str,
    body: Any = None,
    data: bytes | None = None,
    content_type: str = "application/json",
    method: str = "POST",
) -> Answer:
    if data is None:
        kwargs: dict[str, Any] = {"json": envelope() if body is None else body}
    else:
        kwargs = {"data": data, "headers": {"Content-Type": content_type}}
    async with session.request(method, url, **kwargs) as response:
        return Answer(response.status, dict(response.headers), await response.text())


def post(
    url: str, body: Any = None, *, ssl_context: ssl.SSLContext | None = None, **kw: Any
) -> Answer:
    """One request in a fresh session (``body``: JSON; or ``data=`` raw bytes)."""

    async def run() -> Answer:
        connector = aiohttp.TCPConnector(ssl=ssl_context) if ssl_context else None
        async with aiohttp.ClientSession(connector=connector) as session:
            return await _send(session, url, body, **kw)

    return asyncio.run(run())


def burst(url: str, n: int) -> list[Answer]:
    """``n`` concurrent posts of the valid card."""

    async def run() -> list[Answer]:
        async with aiohttp.ClientSession() as session:
            return list(await asyncio.gather(*(_send(session, url) for _ in range(n))))

    return asyncio.run(run())


@pytest.fixture
def teams() -> Iterator[FakeTeams]:
    with FakeTeams() as fake:
        yield fake


# --------------------------------------------------------------------------- posting


def test_a_valid_card_is_accepted_and_recorded_under_its_channel(teams: FakeTeams) -> None:
    answer = post(teams.webhook(CHANNEL))

    assert answer.status == 202 and answer.text == ""
    [rec] = teams.accepted()
    assert rec.method == "POST" and rec.path.startswith(f"/workflows/{CHANNEL}/triggers/")
    assert rec.headers["content-type"] == "application/json"
    assert rec.recipient == CHANNEL and rec.data == envelope()
    assert rec.message_id is None  # a Workflows webhook answers no id
    assert rec.error is None and rec.reasons == []
    assert teams.cards(CHANNEL) == [CARD] and teams.cards("ops") == []
    assert teams.accepted_recipients() == [CHANNEL]


def test_cards_are_kept_per_channel_in_order(teams: FakeTeams) -> None:
    first, second = card_with(body=[{"type": "TextBlock", "text": "1"}]), card_with(version="1.2")
    post(teams.webhook(CHANNEL), envelope(first))
    post(teams.webhook("ops"), envelope(CARD))
    post(teams.webhook(CHANNEL), envelope(second))

    assert teams.cards(CHANNEL) == [first, second]
    assert teams.cards("ops") == [CARD]
    assert teams.accepted_recipients() == [CHANNEL, "ops", CHANNEL]


def test_webhook_urls_carry_a_secret_sig_per_channel(teams: FakeTeams) -> None:
    url = teams.webhook(CHANNEL)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == teams.url
    assert parts.path == f"/workflows/{CHANNEL}/triggers/manual/paths/invoke"
    assert query["api-version"] == ["2016-06-01"] and len(query["sig"][0]) >= 40
    assert teams.webhook(CHANNEL) == url  # kept
    assert parse_qs(urlsplit(teams.webhook("ops")).query)["sig"] != query["sig"]
    assert teams.webhooks == [CHANNEL, "ops"]

    odd = "AP review/EU"  # quoted into the path, and back
    assert post(teams.webhook(odd)).status == 202
    assert teams.accepted()[-1].recipient == odd and teams.cards(odd) == [CARD]

    teams.reset()  # records go, the webhooks stay
    assert teams.requests == [] and post(url).status == 202


@pytest.mark.parametrize(
    "card",
    [
        card_with(version="1.0"),
        card_with(version="1.4"),
        card_with(msteams={"width": "Full"}),  # Teams' own extension
        {"type": "AdaptiveCard", "version": "1.5"},  # body and actions are optional
    ],
)
def test_older_versions_and_the_teams_extension_are_accepted(
    teams: FakeTeams, card: dict[str, Any]
) -> None:
    answer = post(teams.webhook(CHANNEL), envelope(card))
    assert answer.status == 202, teams.requests[-1].reasons
    assert teams.cards(CHANNEL) == [card]


# --------------------------------------------------------------------------- URL


def test_a_wrong_sig_or_an_unknown_webhook_is_401(teams: FakeTeams) -> None:
    url = teams.webhook(CHANNEL)
    secret = parse_qs(urlsplit(url).query)["sig"][0]
    other = teams.webhook("ops")
    bad = [
        url.replace(f"sig={secret}", "sig=" + "x" * len(secret)),  # wrong sig
        url.replace(f"&sig={secret}", ""),  # none
        url.replace(f"sig={secret}", "sig=" + parse_qs(urlsplit(other).query)["sig"][0]),
        url.replace(f"/workflows/{CHANNEL}/", "/workflows/payroll/"),  # nobody's webhook
        f"{teams.url}/webhookb2/{CHANNEL}",  # not a workflow path at all
    ]
    answers = [post(u) for u in bad]

    assert [a.status for a in answers] == [401] * 5
    assert json.loads(answers[0].text)["error"]["code"] == "unauthorized"
    recs = teams.requests
    assert [r.recipient for r in recs] == [CHANNEL, CHANNEL, CHANNEL, "payroll", None]
    assert all(r.error == "unauthorized" and r.reasons and not r.accepted for r in recs)
    assert "sig: missing or wrong for webhook 'finance'" in recs[0].reasons
    assert recs[3].reasons == ["no workflow at webhook 'payroll'"]
    for a, r in zip(answers, recs, strict=True):  # the secret is never repeated
        assert secret not in a.text and not any(secret in x for x in r.reasons)
    assert teams.accepted() == [] and teams.cards(CHANNEL) == []
    with pytest.raises(AssertionError, match=r"got 0.*-> 401 unauthorized \(finance\)"):
        teams.wait_for(1, timeout=0.1)


def test_other_methods_are_405(teams: FakeTeams) -> None:
    answer = post(teams.webhook(CHANNEL), method="GET", data=b"")
    assert answer.status == 405 and answer.headers["Allow"] == "POST"
    assert teams.requests[0].error == "method_not_allowed"


# --------------------------------------------------------------------------- validation


def test_a_version_1_6_card_is_refused_with_reasons(teams: FakeTeams) -> None:
    answer = post(teams.webhook(CHANNEL), envelope(card_with(version="1.6")))

    reason = "attachments/0/content/version: 1.6 is newer than 1.5, the newest Teams renders"
    assert answer.status == 400
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text == f"Bad request: {reason}"
    [rec] = teams.requests
    assert rec.status == 400 and rec.error == "invalid_payload" and rec.reasons == [reason]
    assert not rec.accepted and teams.accepted() == [] and teams.cards(CHANNEL) == []
    assert teams.problems(rec) == rec.reasons


@needs_contract
@pytest.mark.parametrize(
    ("card", "reason"),
    [
        (
            card_with(body=[*CARD["body"], {"type": "Carousel", "pages": []}]),
            "attachments/0/content/body/2/type: unknown type 'Carousel' (known here: ActionSet,",
        ),
        (
            card_with(actions=[{"type": "Action.Http", "title": "Pay", "url": "https://x.io"}]),
            "attachments/0/content/actions/0/type: unknown type 'Action.Http'",
        ),
        (
            card_with(body=[{"type": "Container", "items": [{"type": "Video"}]}]),
            "attachments/0/content/body/0/items/0/type: unknown type 'Video'",
        ),
        (
            card_with(body=[{"type": "TextBlock", "wrap": True}]),
            "attachments/0/content/body/0: 'text' is a required property",
        ),
        (
            card_with(body=[{"type": "TextBlock", "text": "x", "color": "purple"}]),
            "attachments/0/content/body/0/color: 'purple' is not one of",
        ),
        (
            card_with(summary="x"),
            "attachments/0/content: Additional properties are not allowed ('summary'",
        ),
    ],
)
def test_a_card_the_schema_refuses_is_400_with_reasons(
    teams: FakeTeams, card: dict[str, Any], reason: str
) -> None:
    answer = post(teams.webhook(CHANNEL), envelope(card))

    assert answer.status == 400 and answer.text.startswith("Bad request: ")
    [rec] = teams.requests
    assert rec.error == "invalid_payload" and not rec.accepted
    assert any(r.startswith(reason) for r in rec.reasons), rec.reasons
    assert teams.cards(CHANNEL) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body: not JSON"),
        (b"[]", "body: a JSON object is required"),
        ({**envelope(), "type": "note"}, "type: must be 'message' (got 'note')"),
        ({"type": "message"}, "attachments: exactly one attachment is required (got NoneType)"),
        (
            {"type": "message", "attachments": envelope()["attachments"] * 2},
            "attachments: exactly one attachment is required (got 2)",
        ),
        (
            {"type": "message", "attachments": [{"contentType": "text/html", "content": CARD}]},
            "attachments/0/contentType: must be 'application/vnd.microsoft.card.adaptive'",
        ),
        (
            {"type": "message", "attachments": [{"contentType": CARD_TYPE}]},
            "attachments/0/content: required",
        ),
        (envelope("hello"), "attachments/0/content: an Adaptive Card object is required"),
        (
            envelope(card_with(type="HeroCard")),
            "attachments/0/content/type: must be 'AdaptiveCard'",
        ),
        (envelope(card_with(version=1.5)), "attachments/0/content/version: must be a string"),
    ],
)
def test_a_malformed_envelope_is_400_with_reasons(teams: FakeTeams, body: Any, reason: str) -> None:
    url = teams.webhook(CHANNEL)
    answer = post(url, data=body) if isinstance(body, bytes) else post(url, body)

    assert answer.status == 400
    [rec] = teams.requests
    assert rec.error == "invalid_payload" and not rec.accepted
    assert any(r.startswith(reason) for r in rec.reasons), rec.reasons


def test_a_body_that_is_not_declared_json_is_refused(teams: FakeTeams) -> None:
    data = json.dumps(envelope()).encode()
    answer = post(teams.webhook(CHANNEL), data=data, content_type="text/plain")
    assert answer.status == 400
    assert teams.requests[0].reasons == ["Content-Type 'text/plain' (must be 'application/json')"]


def _sized(size: int) -> bytes:
    """A valid envelope of exactly ``size`` bytes."""
    base = json.dumps(envelope(card_with(body=[{"type": "TextBlock", "text": ""}]))).encode()
    filler = "x" * (size - len(base))
    data = json.dumps(envelope(card_with(body=[{"type": "TextBlock", "text": filler}]))).encode()
    assert len(data) == size
    return data


def test_a_body_over_28000_bytes_is_413(teams: FakeTeams) -> None:
    url = teams.webhook(CHANNEL)
    assert post(url, data=_sized(MAX_BODY)).status == 202
    answer = post(url, data=_sized(30_000))

    assert answer.status == 413 and answer.text.startswith("Request entity too large")
    rec = teams.requests[-1]
    assert rec.error == "payload_too_large" and not rec.accepted
    assert rec.reasons == [f"body: 30000 bytes (at most {MAX_BODY})"]
    assert post(url, data=_sized(MAX_BODY + 1)).status == 413
    assert len(teams.cards(CHANNEL)) == 1


@needs_contract
def test_the_cards_validate_against_the_official_schema() -> None:
    validate_adaptive_card(CARD)
    with pytest.raises(AssertionError, match=r"body/0/type: unknown type 'Map'"):
        validate_adaptive_card(card_with(body=[{"type": "Map"}]))
    assert card_problems(card_with(body=[{"type": "Map"}]), at="card")[0].startswith(
        "card/body/0/type: unknown type 'Map'"
    )


def test_without_the_contract_only_the_envelope_and_version_are_checked(
    teams: FakeTeams, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(contracts, "CONTRACTS_DIR", tmp_path)  # no schema there
    assert not adaptive_card_contract_available()
    url = teams.webhook(CHANNEL)

    assert post(url, envelope(card_with(body=[{"type": "Carousel"}]))).status == 202
    assert post(url, envelope(card_with(version="1.6"))).status == 400
    assert post(url, {"type": "message", "attachments": []}).status == 400
    assert [r.status for r in teams.requests] == [202, 400, 400]


# --------------------------------------------------------------------------- rate limit


def test_the_rate_limit_answers_429_with_retry_after() -> None:
    with FakeTeams(rate_limit_per_second=4) as teams:
        url = teams.webhook(CHANNEL)
        answers = burst(url, 10)

        statuses = [a.status for a in answers]
        assert set(statuses) <= {202, 429} and 429 in statuses
        assert all(a.headers["Retry-After"] == "1" for a in answers if a.status == 429)
        throttled = [r for r in teams.requests if r.status == 429]
        assert all(r.error == "rate_limited" and not r.accepted for r in throttled)
        assert len(throttled) == statuses.count(429)
        # never more than 4 accepted within a second, whatever order the threads ran in
        assert teams.max_per_second(CHANNEL, accepted=True) <= 4
        if teams.max_per_second(CHANNEL) == 10:  # all ten arrived within one second
            assert statuses.count(202) == 4
        assert post(teams.webhook("ops")).status == 202  # per webhook

        # polled slower than the limit, the webhook takes cards again once the second passed
        wait_until(lambda: post(url).status == 202, timeout=10, interval=0.5, what="a 202")
        assert len(teams.cards(CHANNEL)) == statuses.count(202) + 1


def test_no_rate_limit_by_default_and_the_rate_is_measured(teams: FakeTeams) -> None:
    assert teams.rate_limit_per_second is None
    assert [a.status for a in burst(teams.webhook(CHANNEL), 10)] == [202] * 10
    times = [r.received_at for r in teams.requests]
    assert teams.max_per_second(CHANNEL) == peak_rate(times) >= 1
    assert teams.max_per_second("ops") == 0

    teams.rate_limit_per_second = 1
    with pytest.raises(ValueError, match="rate_limit_per_second"):
        teams.rate_limit_per_second = 0
    with pytest.raises(ValueError, match="rate_limit_per_second"):
        FakeTeams(rate_limit_per_second=0)


def test_peak_rate_counts_within_any_one_second() -> None:
    assert peak_rate([]) == 0
    assert peak_rate([5.0]) == 1
    assert peak_rate([0.0, 0.5, 0.99, 1.0, 1.5, 3.0]) == 3  # a second apart is not within one
    assert peak_rate([3.0, 0.0, 0.1, 0.2, 0.3]) == 4  # order does not matter
    assert peak_rate([0.0, 0.25, 0.5, 0.75, 1.0, 1.25]) == 4  # paced at 4 a second
    assert peak_rate([0.0, 0.4, 0.8], window=0.5) == 2


# --------------------------------------------------------------------------- scripting


def test_scripted_500_then_normal_behaviour(teams: FakeTeams) -> None:
    url = teams.webhook(CHANNEL)
    teams.script(Reply(500))
    answer = post(url)

    assert answer.status == 500
    assert json.loads(answer.text) == {
        "error": {"code": "internal_error", "message": "Internal Server Error"}
    }
    assert post(url).status == 202  # the script is used up
    assert [r.status for r in teams.requests] == [500, 202]
    assert [r.accepted for r in teams.requests] == [False, True]
    assert teams.cards(CHANNEL) == [CARD]


def test_scripted_429_with_retry_after_and_404(teams: FakeTeams) -> None:
    url = teams.webhook(CHANNEL)
    teams.script(Reply(429, headers={"Retry-After": "30"}), Reply(404))
    throttled, gone = post(url), post(url)

    assert throttled.status == 429 and throttled.headers["Retry-After"] == "30"
    assert gone.status == 404 and json.loads(gone.text)["error"]["code"] == "not_found"
    assert teams.scripted == 0 and teams.accepted() == []


def test_fail_recipient_fails_one_channel(teams: FakeTeams) -> None:
    teams.fail_recipient("ops", Reply(404))
    assert post(teams.webhook("ops")).status == 404
    assert post(teams.webhook(CHANNEL)).status == 202
    teams.fail_recipient("ops", None)
    assert post(teams.webhook("ops")).status == 202
    assert teams.accepted_recipients() == [CHANNEL, "ops"]


def test_a_scripted_success_records_the_card(teams: FakeTeams) -> None:
    teams.script(Reply(200, headers={"X-Extra": "1"}))
    answer = post(teams.webhook(CHANNEL))
    assert answer.status == 200 and answer.headers["X-Extra"] == "1" and answer.text == ""
    assert teams.cards(CHANNEL) == [CARD]


# --------------------------------------------------------------------------- HTTPS


def test_https_with_the_test_ca(test_ca: ThrowawayCA) -> None:
    with FakeTeams(tls=test_ca.server_context) as fake:
        url = fake.webhook(CHANNEL)
        assert url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(test_ca.bundle))

        async def twice() -> list[Answer]:
            connector = aiohttp.TCPConnector(ssl=context)
            async with aiohttp.ClientSession(connector=connector) as session:
                return [await _send(session, url), await _send(session, url)]

        assert [a.status for a in asyncio.run(twice())] == [202, 202]
        assert fake.cards(CHANNEL) == [CARD, CARD]
        assert fake.handshakes == 1  # kept alive
        assert post(url, ssl_context=context).status == 202
