"""The operator console's HTTP behaviour, in process: sign-in, sessions, CSRF, limits,
headers, the SSO proxy's header, and the actions that only write to the database.

The web app is built by the same wiring as `reactor run` and served by Starlette's test
client on a real database; the pages that need deliveries sent are in
tests/e2e/test_console.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from starlette.testclient import TestClient

from reactor.runtime.wiring import Service
from reactor.support.console_auth import hash_password
from tests.helpers import in_process_app, insert_invoices, query, wait_until

PASSWORD = "correct horse battery staple"
SECRET = "console-secret-key-" + "x" * 40
HASH = hash_password(PASSWORD)
PAGES = ["/console/", "/console/deliveries", "/console/failures"]


def _env(reactor_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        **reactor_env,
        "CONSOLE_USERS": f"alice:{HASH}",
        "CONSOLE_SECRET_KEY": SECRET,
        **extra,
    }


@pytest.fixture
def console(
    reactor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Service]]:
    with in_process_app(_env(reactor_env), monkeypatch) as app:
        yield app


def _sign_in(client: TestClient) -> None:
    answer = client.post("/console/login", data={"user": "alice", "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_no_console_page_without_a_session_and_strict_headers_everywhere(
    console: tuple[TestClient, Service],
) -> None:
    client, _ = console
    for path in [*PAGES, "/console/invoices/00000000-0000-4000-8000-000000000000"]:
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/console/login?next="
        ), path
    for path in ("/console/retry", "/console/logout"):
        assert client.post(path, data={"csrf": "x"}).status_code == 401
    login = client.get("/console/login")
    assert login.status_code == 200
    assert login.headers["content-security-policy"].startswith("default-src 'self'")
    assert login.headers["x-frame-options"] == "DENY"
    assert login.headers["referrer-policy"] == "same-origin"
    assert client.get("/console/static/console.css").status_code == 200
    client.cookies.set("reactor_console", "e30.abc")
    assert client.get("/console/").status_code == 303


def test_failed_sign_ins_are_limited_and_never_say_which_part_was_wrong(
    console: tuple[TestClient, Service],
) -> None:
    client, _ = console
    unknown = client.post("/console/login", data={"user": "mallory", "password": PASSWORD})
    wrong = client.post("/console/login", data={"user": "alice", "password": "guess"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.text == wrong.text
    answers = [
        client.post("/console/login", data={"user": "alice", "password": f"guess {n}"})
        for n in range(50)
    ]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and answers[-1].status_code == 429
    assert "Too many attempts, try again later" in limited[0].text
    # Even the right password waits now: the limit is per client and per name.
    right = client.post("/console/login", data={"user": "alice", "password": PASSWORD})
    assert right.status_code == 429


@contextmanager
def _sweeping(client: TestClient, service: Service) -> Iterator[None]:
    """The sweeper running on the app's event loop, as in `reactor run`."""
    running = client.portal.start_task_soon(service.sweeper.run)  # type: ignore[union-attr]
    service.sweeper.request()  # the listener's first connection asks for it in `reactor run`
    try:
        yield
    finally:
        service.sweeper.stop()
        running.cancel()


def test_pause_resume_and_sweep_need_the_csrf_token_and_are_persisted(
    console: tuple[TestClient, Service], database_url: str
) -> None:
    client, service = console
    _sign_in(client)
    token = _csrf(client.get("/console/").text)
    assert client.post("/console/channels/email/pause").status_code == 403
    assert client.post("/console/sweep", data={"csrf": "forged"}).status_code == 403
    assert client.post("/console/channels/fax/pause", data={"csrf": token}).status_code == 404
    assert query(database_url, "SELECT count(*) FROM channel_pauses") == [(0,)]
    paused = client.post("/console/channels/sms/pause", data={"csrf": token})
    assert paused.status_code == 303
    assert query(database_url, "SELECT method, paused_by FROM channel_pauses") == [("sms", "alice")]
    assert "paused by alice" in client.get("/console/").text

    def last_sweep() -> str | None:
        return client.get("/health/status").json()["sweep"]["last_run_at"]  # type: ignore[no-any-return]

    with _sweeping(client, service):
        before = wait_until(last_sweep, what="the start-up sweep")
        assert client.post("/console/sweep", data={"csrf": token}).status_code == 303
        wait_until(lambda: last_sweep() != before, what="a sweep now")
    client.post("/console/channels/sms/resume", data={"csrf": token})
    assert query(database_url, "SELECT count(*) FROM channel_pauses") == [(0,)]


@pytest.mark.parametrize("trusted", [True, False])
def test_an_sso_proxys_user_header_counts_only_from_a_trusted_proxy(
    reactor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, trusted: bool
) -> None:
    env = _env(
        reactor_env,
        CONSOLE_TRUSTED_USER_HEADER="X-Forwarded-User",
        TRUSTED_PROXIES="127.0.0.1/32" if trusted else "10.0.0.0/8",
    )
    with in_process_app(env, monkeypatch) as (client, _):
        headers = {"X-Forwarded-User": "bob@acme.example"}
        page = client.get("/console/", headers=headers)
        if not trusted:
            assert page.status_code == 303  # anyone could send that header
            return
        assert page.status_code == 200 and "bob@acme.example" in page.text
        token = _csrf(page.text)
        assert client.post("/console/sweep", headers=headers).status_code == 403
        swept = client.post("/console/sweep", data={"csrf": token}, headers=headers)
        assert swept.status_code == 303


def test_the_deliveries_list_filters_taken_invoices_and_says_who_took_them(
    console: tuple[TestClient, Service], database_url: str
) -> None:
    client, _ = console
    taken, free = insert_invoices(database_url, 2)
    for invoice, taker in ((taken, "ap-team@example.com"), (free, None)):
        query(
            database_url,
            "WITH e AS (INSERT INTO review_episodes (invoice_id, source, entered_at, taken_at,"
            " taken_by, taken_via) VALUES (%s, 'trigger', now(), CASE WHEN %s::text IS NULL"
            " THEN NULL ELSE now() END, %s, 'email') RETURNING id)"
            " INSERT INTO notifications (invoice_id, episode_id, method, recipient, status)"
            " SELECT %s, id, 'email', 'ap-team@example.com', 'SENT' FROM e",
            (invoice, taker, taker, invoice),
        )
    _sign_in(client)
    listing = client.get("/console/deliveries", params={"taken": "yes"}).text
    assert taken in listing and free not in listing and "taken by a***@example.com" in listing
    listing = client.get("/console/deliveries", params={"taken": "no"}).text
    assert free in listing and taken not in listing


def test_the_invoice_page_writes_amounts_in_the_browsers_locale(
    console: tuple[TestClient, Service], database_url: str
) -> None:
    client, _ = console
    (invoice,) = insert_invoices(database_url, 1, amount="1250.5")
    _sign_in(client)
    page = f"/console/invoices/{invoice}"
    german = client.get(page, headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}).text
    assert '<td class="amount">1.250,50\xa0$</td>' in german
    nobody = client.get(page, headers={"Accept-Language": "tlh, *;q=0.1"}).text
    assert '<td class="amount">$1,250.50</td>' in nobody  # DEFAULT_LOCALE: en-US


def test_the_invoice_page_shows_each_deliverys_trace_id(
    console: tuple[TestClient, Service], database_url: str
) -> None:
    client, _ = console
    (invoice,) = insert_invoices(database_url, 1)
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    query(
        database_url,
        "WITH e AS (INSERT INTO review_episodes (invoice_id, source, entered_at)"
        " VALUES (%s, 'trigger', now()) RETURNING id)"
        " INSERT INTO notifications (invoice_id, episode_id, method, recipient, status,"
        " trace_context) SELECT %s, id, 'email', 'ap@example.com', 'SENT', %s FROM e",
        (invoice, invoice, f"00-{trace}-00f067aa0ba902b7-01"),
    )
    _sign_in(client)
    page = client.get(f"/console/invoices/{invoice}").text
    assert f'<td class="trace">{trace}</td>' in page
