"""Email through an SMTP relay, and SendGrid failing over to it: a real aiosmtpd relay.

STARTTLS with a throwaway CA, AUTH checked, real reactor processes, real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeSendGrid, Reply
from tests.fakes.smtp import RelayServer
from tests.helpers import ReactorProcess, ThrowawayCA, insert_invoices, query, wait_until

OK, BUSY, GONE = "ok@acme.example", "busy@acme.example", "gone@acme.example"


@pytest.fixture
def relay(test_ca: ThrowawayCA) -> Iterator[RelayServer]:
    server = RelayServer(test_ca.server_context).start()
    yield server
    server.stop()


def _env(reactor_env: dict[str, str], relay: RelayServer, ca: ThrowawayCA, **extra: str) -> dict:
    return {
        **reactor_env,
        "SMTP_URL": relay.url(),
        "SMTP_FROM": "reactor@acme.example",
        "PROVIDER_CA_BUNDLE": str(ca.bundle),
        "RETRY_BASE_SECONDS": "0.2",
        "RETRY_CAP_SECONDS": "0.5",
        **extra,
    }


def _rows(url: str, invoice: str | None = None) -> dict[str, tuple]:
    """recipient -> (status, attempts, error, message id, transport) of one invoice's emails."""
    return {
        r[0]: r[1:]
        for r in query(
            url,
            "SELECT recipient, status, attempts, error_message, provider_message_id, transport"
            " FROM notifications WHERE method = 'email'"
            " AND (invoice_id::text = %s OR %s::text IS NULL) ORDER BY id",
            (invoice, invoice),
        )
    }


def test_email_through_the_relay_with_both_parts_escaped_retried_and_failed(
    reactor_env: dict[str, str],
    relay: RelayServer,
    test_ca: ThrowawayCA,
    database_url: str,
    tmp_path: Path,
) -> None:
    relay.relay.refusals = {
        BUSY: ["450 4.2.1 mailbox busy, try again"],
        GONE: ["550 5.1.1 <gone@acme.example>: no such user"] * 20,
    }
    env = _env(
        reactor_env,
        relay,
        test_ca,
        EMAIL_TRANSPORT="smtp",
        NOTIFICATION_RECIPIENTS=f"{OK},{BUSY},{GONE}",
    )
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        (invoice,) = insert_invoices(
            database_url, 1, status="NEEDS_REVIEW", vendor="<script>alert(1)</script>"
        )
        wait_until(
            lambda: (
                {r[0] for r in _rows(database_url).values()} == {"SENT", "FAILED"}
                and _rows(database_url)[BUSY][0] == "SENT"
            ),
            what="ok and busy SENT, gone FAILED",
        )
        more = insert_invoices(database_url, 8, status="NEEDS_REVIEW")
        wait_until(lambda: len(relay.relay.received) == 2 + 2 * len(more), what="the rest")
    finally:
        process.stop()
    rows = _rows(database_url, invoice)
    assert rows[BUSY][:2] == ("SENT", 2)  # the 450 was retried
    assert rows[GONE][0] == "FAILED"
    assert rows[GONE][2] == "SMTP 550: 5.1.1 <g***@acme.example>: no such user"
    first = next(m for m in relay.relay.received if OK in m.recipients)
    text = first.message.get_body(("plain",)).get_content()
    html = first.message.get_body(("html",)).get_content()
    assert "<script>alert(1)</script>" in text  # plain text is text
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert rows[OK][3] == first.message["Message-ID"]  # the id we set is the one recorded
    assert rows[OK][4] == "smtp"
    sessions = {m.session for m in relay.relay.received}
    assert len(sessions) <= 4 < len(relay.relay.received)  # kept-alive connections


def test_refused_credentials_pause_email_and_keep_the_rows(
    reactor_env: dict[str, str],
    relay: RelayServer,
    test_ca: ThrowawayCA,
    database_url: str,
    tmp_path: Path,
) -> None:
    env = _env(
        reactor_env,
        relay,
        test_ca,
        EMAIL_TRANSPORT="smtp",
        SMTP_URL=relay.url(password="wrong"),
        NOTIFICATION_RECIPIENTS=OK,
    )
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        insert_invoices(database_url, 1, status="NEEDS_REVIEW")
        email = wait_until(
            lambda: (
                (t := process.get("/health/status").json()["transports"]["email"])[
                    "last_failure_class"
                ]
                and t
            ),
            what="the auth failure",
        )
    finally:
        process.stop()
    assert email["last_failure_class"] == "auth" and email["paused_for_seconds"] > 0
    assert "wrong" not in str(email) and "relay-secret" not in process.output()
    assert _rows(database_url)[OK][:2] == ("PENDING", 0)
    assert relay.relay.received == []


def test_sendgrid_failing_over_to_the_relay_after_its_attempts(
    reactor_env: dict[str, str],
    relay: RelayServer,
    test_ca: ThrowawayCA,
    sendgrid: FakeSendGrid,
    database_url: str,
    tmp_path: Path,
) -> None:
    sendgrid.fail_recipient(OK, Reply(status=503))
    sendgrid.fail_recipient(GONE, Reply(status=400))
    env = _env(
        reactor_env,
        relay,
        test_ca,
        NOTIFICATION_RECIPIENTS=f"{OK},{GONE}",
        EMAIL_FAILOVER_AFTER="2",
    )
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    try:
        insert_invoices(database_url, 1, status="NEEDS_REVIEW")
        wait_until(lambda: _rows(database_url).get(OK, ("",))[0] == "SENT", what="the failover")
        wait_until(lambda: _rows(database_url).get(GONE, ("",))[0] == "FAILED", what="the refusal")
    finally:
        process.stop()
    rows = _rows(database_url)
    assert rows[OK][:2] == ("SENT", 3) and rows[OK][4] == "smtp"
    assert [str(r.recipient) for r in sendgrid.requests].count(OK) == 2
    assert [m.recipients for m in relay.relay.received] == [[OK]]
    assert rows[GONE][4] is None and rows[GONE][1] == 1  # a 400 does not fail over
