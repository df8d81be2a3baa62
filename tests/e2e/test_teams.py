"""Microsoft Teams end to end: a real `reactor run`, a fake Workflows webhook that checks
every card against the Adaptive Card 1.5 schema (when ../shared/contracts is there)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reactor.support.console_auth import hash_password
from tests.fakes import Reply
from tests.fakes.teams import FakeTeams
from tests.helpers import (
    EMAILS,
    ReactorProcess,
    insert_invoices,
    query,
    retried_later,
    run_cli,
    wait_until,
)

HOSTILE = "<!channel> <script> *bold* & <http://evil|click> **[click](http://evil)** <at>all</at>"
PASSWORD = "correct horse battery staple"
FLIP = "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = ANY(%s::uuid[])"


@pytest.fixture
def teams() -> Iterator[FakeTeams]:
    with FakeTeams(rate_limit_per_second=5) as fake:
        yield fake


def _env(reactor_env: dict[str, str], teams: FakeTeams, **extra: str) -> dict[str, str]:
    return {
        **reactor_env,
        "NOTIFICATION_RECIPIENTS": f"teams:finance,{EMAILS[0]}",
        "TEAMS_TRANSPORT": "teams",
        "TEAMS_WEBHOOKS": f"finance={teams.webhook('finance')}",
        **extra,
    }


def _teams_rows(url: str) -> list[tuple]:
    return query(
        url,
        "SELECT status, provider_message_id, error_message FROM notifications"
        " WHERE method = 'teams' ORDER BY id",
    )


def test_an_invoice_reaches_the_channel_as_a_card_and_the_webhook_url_stays_secret(
    reactor_env: dict[str, str], database_url: str, teams: FakeTeams, tmp_path: Path
) -> None:
    (invoice,) = insert_invoices(database_url, 1, vendor=HOSTILE)
    env = _env(
        reactor_env,
        teams,
        CONSOLE_USERS=f"alice:{hash_password(PASSWORD)}",
        CONSOLE_SECRET_KEY="console-secret-key-" + "x" * 40,
    )
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, ([invoice],))
        teams.wait_for(1)
        wait_until(lambda: [r[0] for r in _teams_rows(database_url)] == ["SENT"], what="SENT")
        seen = [process.get(path).text for path in ("/health/status", "/info", "/metrics")]
        seen.append(run_cli(["status"], env).stdout)
        with httpx.Client(base_url=process.base_url, timeout=5) as console:
            signed_in = console.post("/console/login", data={"user": "alice", "password": PASSWORD})
            assert signed_in.status_code == 303
            for page in ("/console/", "/console/deliveries", f"/console/invoices/{invoice}"):
                answer = console.get(page)
                shown = "teams" if page == "/console/" else "teams:finance"
                assert answer.status_code == 200 and shown in answer.text, page
                seen.append(answer.text)
    finally:
        process.stop()
    (card,) = teams.cards("finance")
    body = json.dumps(card)
    assert card["version"] == "1.5" and "**[click](http" not in body and "<at>" not in body
    assert "<http://evil|click>" not in body and "*bold*" not in body
    assert f"https://ap.example.com/invoices/{invoice}" in body
    assert _teams_rows(database_url)[0][1].startswith("teams-")
    secret = teams.webhook("finance")
    signature = secret.split("sig=")[1]
    for text in [*seen, process.output()]:
        assert secret not in text and signature not in text


def test_a_bulk_is_one_card_and_singles_are_paced_under_the_webhooks_limit(
    reactor_env: dict[str, str], database_url: str, teams: FakeTeams, tmp_path: Path
) -> None:
    bulk = insert_invoices(database_url, 50)
    singles = insert_invoices(database_url, 8)
    env = _env(reactor_env, teams, DIGEST_WINDOW_SECONDS="300")
    process = ReactorProcess(env, tmp_path / "r1.log").start()
    try:
        query(database_url, FLIP, (bulk,))
        teams.wait_for(1)
    finally:
        process.stop()
    (digest,) = teams.cards("finance")
    assert "50 invoices need review" in json.dumps(digest) and "and 30 more" in json.dumps(digest)
    env = _env(reactor_env, teams, DIGEST_WINDOW_SECONDS="0")  # one card per invoice
    process = ReactorProcess(env, tmp_path / "r2.log").start()
    try:
        for invoice in singles:
            query(database_url, FLIP, ([invoice],))
        teams.wait_for(9, timeout=20)
    finally:
        process.stop()
    assert len(teams.accepted()) == 9 and len(teams.requests) == 9  # none refused
    assert teams.max_per_second("finance") <= 5  # all 8 at once would be 8


def test_a_refused_card_fails_and_a_429_waits_its_retry_after(
    reactor_env: dict[str, str], database_url: str, teams: FakeTeams, tmp_path: Path
) -> None:
    first, second = insert_invoices(database_url, 2)
    teams.script(Reply(status=404))
    process = ReactorProcess(_env(reactor_env, teams), tmp_path / "reactor.log").start()
    try:
        query(database_url, FLIP, ([first],))
        wait_until(lambda: [r[0] for r in _teams_rows(database_url)] == ["FAILED"], what="FAILED")
        assert _teams_rows(database_url)[0][2] == "Teams 404"  # and never the URL
        teams.script(Reply(status=429, headers={"Retry-After": "7200"}))
        query(database_url, FLIP, ([second],))
        due = retried_later(database_url, "teams", second)
    finally:
        process.stop()
    assert due.total_seconds() > 3600
