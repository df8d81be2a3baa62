"""The operator console beside a running pipeline: pages of real deliveries, and retry.

A real reactor process with the console on, real PostgreSQL, the fakes. The console's
HTTP behaviour alone (sign-in, sessions, CSRF, limits, headers, the SSO header, pause
and sweep) is tested in process: tests/integration/test_console_http.py.
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
