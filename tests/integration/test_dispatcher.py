"""The dispatcher in this process, on a real database and the fake providers.

What a process-level test cannot arrange on purpose: a renderer with a bug for one
invoice, a claim whose lease expired while another process re-claimed the row, and
an outcome the database refuses. The send path is the real one (SDKs, fakes).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import structlog.testing

from reactor.db.statements import fill
from reactor.db.store import outcome_params
from reactor.domain.deliveries import DrainReport, Outcome
from reactor.domain.messages import InvoiceView, RenderedEmail
from reactor.messages.renderer import MessageRenderer
from reactor.pipeline.claims import Claims
from reactor.pipeline.intake import Intake
from reactor.pipeline.recorder import Recorder
from reactor.runtime.wiring import build_dispatcher, open_store
from reactor.settings.service import Settings, load_settings
from reactor.support.resources import sql
from tests.fakes import FakeSendGrid, FakeTwilio, Reply
from tests.helpers import EMAIL, PHONE, insert_invoices, query, scalar, service_env

# The intake statement as the dispatcher runs it on a table with every field's column.
TAKE_EVENTS = fill(sql("queries/take_events"), {"invoice_fields": "invoice_fields/columns"})


def settings_for(url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio, **extra: str) -> Settings:
    """Settings as `reactor run` would read them from this environment."""
    env = {**service_env(url, sendgrid, twilio, f"{EMAIL},{PHONE}"), **extra}
    return load_settings(Settings, **{k.lower(): v for k, v in env.items()})


class BrokenForOne(MessageRenderer):
    """A renderer with a bug that shows for one invoice only."""

    def __init__(self, broken_invoice: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.broken_invoice = broken_invoice

    def email(
        self,
        invoice: InvoiceView,
        reminder: bool = False,
        take_link: str | None = None,
        locale: str | None = None,
    ) -> RenderedEmail:
        if invoice.invoice_id == self.broken_invoice:
            raise ZeroDivisionError("a bug in a template filter")
        return super().email(invoice, reminder, take_link, locale)


def drain(settings: Settings, url: str, renderer: MessageRenderer | None = None) -> DrainReport:
    """One complete drain, as `reactor sweep` runs it."""

    async def run() -> DrainReport:
        async with open_store(url) as store:
            dispatcher = build_dispatcher(store, settings, renderer=renderer)
            report = await dispatcher.drain_until_idle()
            await dispatcher.stop(grace=1)
            return report

    return asyncio.run(run())


@pytest.fixture
def one_sender(database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio) -> Iterator[Settings]:
    """Settings with a single sender thread: a thread that died would stop everything."""
    yield settings_for(
        database_url,
        sendgrid,
        twilio,
        SEND_CONCURRENCY="1",
        RETRY_BASE_SECONDS="3600",
        RETRY_CAP_SECONDS="3600",
    )


def test_a_renderer_bug_for_one_invoice_retries_that_row_and_the_sender_goes_on(
    database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio, one_sender: Settings
) -> None:
    ids = insert_invoices(database_url, 4, status="NEEDS_REVIEW")
    broken = ids[1]
    renderer = BrokenForOne(
        broken,
        frontend_base_url="https://ap.example.com",
        invoice_path="/invoices/{id}",
        default_currency="USD",
        sms_max_segments=1,
    )
    report = drain(one_sender, database_url, renderer)

    rows = query(
        database_url,
        "SELECT invoice_id::text, method, status, attempts, error_message FROM notifications",
    )
    by_key = {(r[0], r[1]): r[2:] for r in rows}
    status, attempts, error = by_key[(broken, "email")]
    assert status == "PENDING" and attempts == 1, by_key[(broken, "email")]
    assert "ZeroDivisionError" in error
    # Every other delivery went out through the one sender thread, after the bug.
    assert report.sent == 7
    assert sorted(r.recipient for r in sendgrid.accepted()) == [EMAIL] * 3
    assert len(twilio.accepted()) == 4
    assert scalar(database_url, "SELECT count(*) FROM notifications WHERE status = 'SENT'") == 7


def test_a_batch_with_one_outcome_the_database_rejects_is_recorded_row_by_row(
    database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio, one_sender: Settings
) -> None:
    # A provider error text the database cannot store (PostgreSQL text has no NUL).
    body = {"code": 21211, "message": "Invalid 'To'\x00 number", "status": 400}
    twilio.fail_recipient(PHONE, Reply(400, body=body))
    insert_invoices(database_url, 3, status="NEEDS_REVIEW")
    drain(settings_for(database_url, sendgrid, twilio, SEND_CONCURRENCY="4"), database_url)

    statuses = dict(
        query(
            database_url,
            "SELECT method || ':' || status, count(*) FROM notifications GROUP BY 1",
        )
    )
    assert statuses == {"email:SENT": 3, "sms:FAILED": 3}, statuses
    errors = {
        r[0]
        for r in query(
            database_url, "SELECT error_message FROM notifications WHERE status = 'FAILED'"
        )
    }
    # The reason says what the outcome was: these were refused by the provider.
    assert errors == {"the database refused this delivery's outcome (FAILED, DataError)"}
    assert scalar(database_url, "SELECT count(*) FROM notifications WHERE status = 'SENDING'") == 0


def _claimed(rows: list[tuple]) -> dict[int, uuid.UUID]:
    return {row[0]: row[1] for row in rows}


def test_a_late_outcome_from_an_expired_lease_never_overwrites_the_new_claim(
    database_url: str,
) -> None:
    """Process A claims, its lease expires, B re-claims and sends; A's answer comes late."""
    [invoice] = insert_invoices(database_url, 1, status="NEEDS_REVIEW")
    settings = load_settings(
        Settings,
        database_url=database_url,
        notification_recipients=EMAIL,
        digest_window_seconds=0,
        lease_seconds=60,
        max_attempts=5,
    )
    take = Intake(None, settings).params(room=10, paused=[])  # type: ignore[arg-type]
    first = query(database_url, TAKE_EVENTS, take)
    [(delivery, token_a)] = [(r[3], r[4]) for r in first]  # after the three counts
    assert token_a is not None
    # A's lease runs out (A hangs on the provider); B claims the row again.
    query(
        database_url,
        "UPDATE notifications SET lease_expires_at = now() - interval '1 second' WHERE id = %s",
        (delivery,),
    )
    due = Claims(None, settings).params(room=10, paused=[])  # type: ignore[arg-type]
    second = _claimed(query(database_url, sql("queries/claim_due"), due))
    token_b = second[delivery]
    assert token_b != token_a

    def record(token: uuid.UUID, status: str, message_id: str) -> int:
        params = outcome_params([Outcome(delivery, token, status, message_id=message_id)])
        with psycopg.connect(database_url, autocommit=True) as conn:
            return conn.execute(sql("queries/record_outcomes"), params).rowcount

    assert record(token_b, "SENT", "sent-by-b") == 1
    # A's answer arrives now: a timeout it took for a failure, say. It changes nothing.
    assert record(token_a, "PENDING", "late-from-a") == 0
    row = query(
        database_url,
        "SELECT status, provider_message_id, attempts, invoice_id::text FROM notifications "
        "WHERE id = %s",
        (delivery,),
    )
    assert row == [("SENT", "sent-by-b", 2, invoice)]

    # Nor can A give the row back (release) after B took it.
    released = query(
        database_url,
        "WITH r AS (" + sql("queries/release_claims") + " RETURNING 1) SELECT count(*) FROM r",
        {"ids": [delivery], "tokens": [token_a]},
    )
    assert released == [(0,)]


FENCING_WARNING = "outcomes not recorded: their lease had expired and another claim owns the rows"


def test_a_digest_of_fifty_invoices_raises_no_fencing_warning(
    database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio
) -> None:
    """A digest's outcome is written to each of its rows: counted in rows, nothing lost."""
    insert_invoices(database_url, 50, status="NEEDS_REVIEW")
    settings = settings_for(database_url, sendgrid, twilio, DIGEST_WINDOW_SECONDS="300")
    with structlog.testing.capture_logs() as logs:
        drain(settings, database_url)
    assert scalar(database_url, "SELECT count(*) FROM notifications WHERE status = 'SENT'") == 100
    assert scalar(database_url, "SELECT max(digest_size) FROM notifications") == 50
    assert [e for e in logs if e["event"] == FENCING_WARNING] == []


def test_outcomes_of_a_lost_claim_are_warned_about_once_per_row(database_url: str) -> None:
    """A digest of three whose claim was lost: three rows not recorded, said in one warning."""
    insert_invoices(database_url, 3, status="NEEDS_REVIEW")
    settings = load_settings(Settings, database_url=database_url, notification_recipients=EMAIL)
    take = Intake(None, settings).params(room=10, paused=[])  # type: ignore[arg-type]
    claimed = [(r[3], r[4]) for r in query(database_url, TAKE_EVENTS, take)]
    assert len(claimed) == 3 and all(token is not None for _, token in claimed)
    # Their lease ran out and another process claimed the rows again.
    query(database_url, "UPDATE notifications SET claim_token = gen_random_uuid()")
    (first, token), *others = claimed
    outcome = Outcome(first, token, "SENT", message_id="late", digest=tuple(others))

    async def record() -> None:
        async with open_store(database_url) as store:
            await Recorder(store).write([outcome], [])

    with structlog.testing.capture_logs() as logs:
        asyncio.run(record())
    warnings = [e for e in logs if e["event"] == FENCING_WARNING]
    assert [w["count"] for w in warnings] == [3]
    assert scalar(database_url, "SELECT count(*) FROM notifications WHERE status = 'SENT'") == 0
