"""The operator console over HTTP: sign-in, sessions, CSRF, limits, pages, retry.

A real reactor process with the console on, real PostgreSQL, the fakes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reactor.support.console_auth import hash_password
from tests.fakes import FakeSendGrid, Reply
from tests.helpers import (
    SENDGRID_KEY,
    TWILIO_TOKEN,
    ReactorProcess,
    insert_invoices,
    query,
    wait_until,
)

PASSWORD = "correct horse battery staple"
SECRET = "console-secret-key-" + "x" * 40
HASH = hash_password(PASSWORD)
EMAIL = "controller@acme.example"
HOSTILE = "<img src=x onerror=alert(1)>"
PAGES = ["/console/", "/console/deliveries", "/console/failures"]


@pytest.fixture
def console(reactor_env: dict[str, str], tmp_path: Path) -> Iterator[ReactorProcess]:
    env = {
        **reactor_env,
        "NOTIFICATION_RECIPIENTS": EMAIL,
        "CONSOLE_USERS": f"alice:{HASH}",
        "CONSOLE_SECRET_KEY": SECRET,
        "RETRY_BASE_SECONDS": "3600",
    }
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    yield process
    process.stop()


def _client(process: ReactorProcess) -> httpx.Client:
    return httpx.Client(base_url=process.base_url, timeout=5, follow_redirects=False)


def _signed_in(process: ReactorProcess) -> httpx.Client:
    client = _client(process)
    answer = client.post("/console/login", data={"user": "alice", "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    return client


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_no_console_page_without_a_session_and_strict_headers_everywhere(
    console: ReactorProcess,
) -> None:
    client = _client(console)
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
    forged = httpx.Client(base_url=console.base_url, cookies={"reactor_console": "e30.abc"})
    assert forged.get("/console/").status_code == 303


def test_pages_show_deliveries_escape_vendors_and_retry_a_failure(
    console: ReactorProcess, database_url: str, sendgrid: FakeSendGrid
) -> None:
    sendgrid.fail_recipient(EMAIL, Reply(status=400))
    (invoice,) = insert_invoices(database_url, 1, status="NEEDS_REVIEW", vendor=HOSTILE)
    failed = "SELECT status FROM notifications WHERE method = 'email'"
    wait_until(lambda: query(database_url, failed) == [("FAILED",)], what="FAILED")
    client = _signed_in(console)
    listing = client.get("/console/deliveries", params={"status": "FAILED"}).text
    assert invoice in listing and f'href="/console/invoices/{invoice}"' in listing
    assert EMAIL not in listing and "c***@acme.example" in listing  # masked in lists
    assert HOSTILE not in listing and "&lt;img src=x onerror=alert(1)&gt;" in listing
    page = client.get(f"/console/invoices/{invoice}").text
    assert EMAIL in page and HOSTILE not in page  # in full only here, and as text
    failures = client.get("/console/failures").text
    assert "SendGrid 400" in failures
    row = query(database_url, "SELECT id FROM notifications WHERE method = 'email'")[0][0]
    assert client.post("/console/retry", data={"id": row}).status_code == 403  # no CSRF
    assert client.post("/console/retry", data={"id": row, "csrf": "forged"}).status_code == 403
    token = _csrf(failures)
    confirm = client.post("/console/retry", data={"id": row, "csrf": token})
    assert "Retry 1 delivery?" in confirm.text
    assert query(database_url, failed) == [("FAILED",)]  # nothing yet
    sendgrid.fail_recipient(EMAIL, None)
    done = client.post("/console/retry", data={"id": row, "csrf": token, "confirm": "yes"})
    assert "1 requeued" in done.text
    wait_until(lambda: query(database_url, failed) == [("SENT",)], what="sent once accepted")
    overview = client.get("/console/").text
    assert "<svg" in overview and "email" in overview
    assert "Listener: listening since" in overview and "Last sweep:" in overview
    for body in (listing, page, failures, overview, confirm.text, done.text):
        for secret in (SECRET, HASH, PASSWORD, SENDGRID_KEY, TWILIO_TOKEN):
            assert secret not in body
    logout = client.post("/console/logout", data={"csrf": token})
    assert logout.status_code == 303


def test_failed_sign_ins_are_limited_and_never_say_which_part_was_wrong(
    console: ReactorProcess,
) -> None:
    client = _client(console)
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


def test_pause_resume_and_sweep_need_the_csrf_token_and_are_persisted(
    console: ReactorProcess, database_url: str
) -> None:
    client = _signed_in(console)
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
        return console.get("/health/status").json()["sweep"]["last_run_at"]

    before = wait_until(last_sweep, what="the start-up sweep")
    assert client.post("/console/sweep", data={"csrf": token}).status_code == 303
    wait_until(lambda: last_sweep() != before, what="a sweep now")
    client.post("/console/channels/sms/resume", data={"csrf": token})
    assert query(database_url, "SELECT count(*) FROM channel_pauses") == [(0,)]


@pytest.mark.parametrize("trusted", [True, False])
def test_an_sso_proxys_user_header_counts_only_from_a_trusted_proxy(
    reactor_env: dict[str, str], tmp_path: Path, trusted: bool
) -> None:
    env = {
        **reactor_env,
        "CONSOLE_USERS": f"alice:{HASH}",
        "CONSOLE_SECRET_KEY": SECRET,
        "CONSOLE_TRUSTED_USER_HEADER": "X-Forwarded-User",
        "TRUSTED_PROXIES": "127.0.0.1/32" if trusted else "10.0.0.0/8",
    }
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        client = _client(process)
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
    finally:
        process.stop()
