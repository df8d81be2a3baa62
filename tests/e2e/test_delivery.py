"""End to end: invoice writes -> trigger -> listener -> SendGrid and Twilio fakes -> rows."""

from __future__ import annotations

import uuid
from collections import Counter

from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import (
    EMAILS,
    PHONES,
    ReactorProcess,
    insert_invoices,
    invoice_of,
    notification_rows,
    query,
    replica_too,
    scalar,
    wait_until,
)

# Each test runs in both modes where the mode changes what it checks (how a write
# reaches the reactor's trigger); episodes and skips are decided the same way in both.

RECIPIENTS = len(EMAILS) + len(PHONES)


def _all_sent(url: str, expected: int) -> bool:
    return scalar(url, "SELECT count(*) FROM notifications WHERE status = 'SENT'") == expected


@replica_too
def test_update_into_review_notifies_every_recipient(
    reactor: ReactorProcess,
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
) -> None:
    [invoice] = insert_invoices(invoices_url, 1, status="MATCHED")
    query(
        invoices_url,
        "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s",
        (invoice,),
    )

    emails = sendgrid.wait_for(len(EMAILS))
    sms = twilio.wait_for(len(PHONES))
    assert sorted(r.recipient for r in emails) == sorted(EMAILS)
    assert sorted(r.recipient for r in sms) == sorted(PHONES)
    wait_until(lambda: _all_sent(database_url, RECIPIENTS), what="rows SENT")
    rows = notification_rows(database_url)
    assert {r["method"] for r in rows} == {"email", "sms"}
    assert all(str(r["invoice_id"]) == invoice for r in rows)
    ids = {r["recipient"]: r["provider_message_id"] for r in rows}
    assert {ids[r.recipient] for r in emails} == {r.message_id for r in emails}
    assert {ids[r.recipient] for r in sms} == {r.message_id for r in sms}
    assert all(r["sent_at"] is not None and r["attempts"] == 1 for r in rows)


@replica_too
def test_insert_in_review_notifies(
    reactor: ReactorProcess,
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
) -> None:
    invoice = str(uuid.uuid4())
    query(
        invoices_url,
        "INSERT INTO invoices (id, vendor_name, total_amount, matched_status) "
        "VALUES (%s, 'Globex', 99.5, 'NEEDS_REVIEW')",
        (invoice,),
    )
    sendgrid.wait_for(len(EMAILS))
    twilio.wait_for(len(PHONES))
    wait_until(lambda: _all_sent(database_url, RECIPIENTS), what="rows SENT")
    body = twilio.accepted()[0].data["Body"]
    assert "Globex" in body and "$99.50" in body and body.endswith(f"/invoices/{invoice}")


@replica_too
def test_writes_that_are_not_transitions_do_nothing(
    reactor: ReactorProcess,
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
) -> None:
    [in_review] = insert_invoices(invoices_url, 1, status="NEEDS_REVIEW")
    sendgrid.wait_for(len(EMAILS))
    wait_until(lambda: _all_sent(database_url, RECIPIENTS), what="first episode sent")
    episodes_before = scalar(database_url, "SELECT count(*) FROM review_episodes")
    [matched] = insert_invoices(invoices_url, 1, status="MATCHED")

    query(
        invoices_url,
        "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s",
        (in_review,),
    )  # unchanged status
    query(invoices_url, "UPDATE invoices SET vendor_name = 'Renamed' WHERE id = %s", (in_review,))
    query(invoices_url, "UPDATE invoices SET matched_status = 'APPROVED' WHERE id = %s", (matched,))
    query(
        invoices_url,
        "INSERT INTO invoices (id, vendor_name, matched_status) "
        "VALUES (gen_random_uuid(), 'x', 'MATCHED')",
    )

    assert scalar(database_url, "SELECT count(*) FROM review_events") == 0  # nothing queued
    assert scalar(database_url, "SELECT count(*) FROM review_episodes") == episodes_before
    # A marker transition afterwards proves the reactor was listening all along.
    [marker] = insert_invoices(invoices_url, 1, status="NEEDS_REVIEW")
    wait_until(lambda: _all_sent(database_url, 2 * RECIPIENTS), what="marker sent")
    assert len(sendgrid.requests) == 2 * len(EMAILS)
    assert len(twilio.requests) == 2 * len(PHONES)
    assert scalar(database_url, "SELECT count(DISTINCT invoice_id) FROM notifications") == 2
    assert (
        scalar(database_url, "SELECT count(*) FROM notifications WHERE invoice_id = %s", (marker,))
        == RECIPIENTS
    )


@replica_too
def test_one_update_of_500_invoices_delivers_each_once(
    reactor: ReactorProcess,
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
) -> None:
    ids = insert_invoices(invoices_url, 500, status="MATCHED")
    query(invoices_url, "UPDATE invoices SET matched_status = 'NEEDS_REVIEW'")

    sendgrid.wait_for(500 * len(EMAILS), timeout=60)
    twilio.wait_for(500 * len(PHONES), timeout=60)
    wait_until(lambda: _all_sent(database_url, 500 * RECIPIENTS), timeout=60, what="all SENT")
    assert scalar(database_url, "SELECT count(*) FROM review_episodes") == 500
    counts = Counter(sendgrid.accepted_recipients() + twilio.accepted_recipients())
    assert counts == {r: 500 for r in (*EMAILS, *PHONES)}
    per_invoice = query(
        database_url, "SELECT invoice_id, count(*) FROM notifications GROUP BY invoice_id"
    )
    assert len(per_invoice) == len(ids) and {c for _, c in per_invoice} == {RECIPIENTS}


@replica_too
def test_events_committed_while_no_reactor_runs_are_sent_at_start(
    reactor_env: dict[str, str],
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path,
) -> None:
    insert_invoices(invoices_url, 3, status="NEEDS_REVIEW")
    queued = "SELECT sum(cardinality(invoice_ids)) FROM review_events"
    wait_until(lambda: scalar(database_url, queued) == 3, what="three invoices in the outbox")
    assert sendgrid.requests == []

    process = ReactorProcess(reactor_env, tmp_path / "late.log").start()
    try:
        sendgrid.wait_for(3 * len(EMAILS))
        twilio.wait_for(3 * len(PHONES))
        wait_until(lambda: _all_sent(database_url, 3 * RECIPIENTS), what="backlog SENT")
    finally:
        assert process.stop() == 0


def test_invoice_that_returns_to_review_is_a_new_episode(
    reactor: ReactorProcess,
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
) -> None:
    [invoice] = insert_invoices(invoices_url, 1, status="NEEDS_REVIEW")
    wait_until(lambda: _all_sent(database_url, RECIPIENTS), what="first episode")
    query(invoices_url, "UPDATE invoices SET matched_status = 'MATCHED' WHERE id = %s", (invoice,))
    query(
        invoices_url,
        "UPDATE invoices SET matched_status = 'NEEDS_REVIEW' WHERE id = %s",
        (invoice,),
    )
    wait_until(lambda: _all_sent(database_url, 2 * RECIPIENTS), what="second episode")
    assert scalar(database_url, "SELECT count(DISTINCT episode_id) FROM notifications") == 2
    assert Counter(sendgrid.accepted_recipients()) == {e: 2 for e in EMAILS}


def test_invoice_that_leaves_review_before_dispatch_is_skipped(
    reactor_env: dict[str, str],
    database_url: str,
    invoices_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path,
) -> None:
    [invoice] = insert_invoices(invoices_url, 1, status="NEEDS_REVIEW")
    query(invoices_url, "UPDATE invoices SET matched_status = 'APPROVED' WHERE id = %s", (invoice,))
    [marker] = insert_invoices(invoices_url, 1, status="NEEDS_REVIEW")

    process = ReactorProcess(reactor_env, tmp_path / "r.log").start()
    try:
        wait_until(lambda: _all_sent(database_url, RECIPIENTS), what="marker sent")
    finally:
        process.stop()
    rows = query(
        database_url,
        "SELECT status, error_message FROM notifications WHERE invoice_id = %s",
        (invoice,),
    )
    assert len(rows) == RECIPIENTS
    assert {status for status, _ in rows} == {"SKIPPED"}
    assert all("APPROVED" in message for _, message in rows)
    # Only the marker's messages went out: the link in each names the invoice.
    assert len(sendgrid.requests) == len(EMAILS)
    assert {invoice_of(r) for r in [*sendgrid.requests, *twilio.requests]} == {marker}
