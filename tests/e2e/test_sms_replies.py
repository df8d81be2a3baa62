"""Taking an invoice by replying to its SMS, and STOP/START: a real reactor, the fake
Twilio, and replies posted to /webhooks/twilio/inbound signed as Twilio signs them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import (
    EMAIL,
    PHONE,
    TWILIO_TOKEN,
    ReactorProcess,
    insert_invoices,
    query,
    scalar,
    wait_until,
)

PUBLIC = "https://reactor.acme.example"
INBOUND = PUBLIC + "/webhooks/twilio/inbound"
SECRET = "take-link-secret-" + "s" * 32
FLIP = "UPDATE invoices SET matched_status = %s WHERE id = %s"
CODE = re.compile(r"Reply (\d+) to take it\.$")


@pytest.fixture
def reactor(reactor_env: dict[str, str], tmp_path: Path) -> Iterator[ReactorProcess]:
    env = {
        **reactor_env,
        "NOTIFICATION_RECIPIENTS": f"{EMAIL},{PHONE}",
        "PUBLIC_BASE_URL": PUBLIC,
        "LINK_SECRET_KEY": SECRET,
        "DIGEST_WINDOW_SECONDS": "0",
    }
    process = ReactorProcess(env, tmp_path / "reactor.log").start()
    yield process
    process.stop()


def _reply(reactor: ReactorProcess, body: str, phone: str = PHONE, **extra: str) -> httpx.Response:
    form = {"From": phone, "To": "+15005550006", "Body": body, "MessageSid": "SM" + "1" * 32}
    form.update(extra)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(INBOUND, form)
    return httpx.post(
        reactor.base_url + "/webhooks/twilio/inbound",
        data=form,
        headers={"X-Twilio-Signature": signature},
        timeout=5,
    )


def _codes(twilio: FakeTwilio) -> dict[str, int]:
    """Reply code of each SMS body sent (by body), for the review SMS."""
    codes = {}
    for request in twilio.accepted():
        body = request.data["Body"]
        if found := CODE.search(body):
            codes[body] = int(found.group(1))
    return codes


def _taken(database_url: str, invoice: str) -> tuple | None:
    rows = query(
        database_url,
        "SELECT e.taken_by, e.taken_via FROM review_episodes e WHERE e.invoice_id = %s"
        " AND e.taken_at IS NOT NULL",
        (invoice,),
    )
    return rows[0] if rows else None


def _code_of(database_url: str, invoice: str) -> int:
    return int(
        scalar(
            database_url,
            "SELECT reply_code FROM notifications WHERE invoice_id = %s AND method = 'sms'"
            " ORDER BY id DESC LIMIT 1",
            (invoice,),
        )
    )


def test_a_reply_code_takes_the_right_one_of_three_and_the_others_hear_who(
    reactor: ReactorProcess, database_url: str, twilio: FakeTwilio, sendgrid: FakeSendGrid
) -> None:
    invoices = insert_invoices(database_url, 3)
    for invoice in invoices:
        query(database_url, FLIP, ("NEEDS_REVIEW", invoice))
    twilio.wait_for(3)
    wait_until(lambda: len(_codes(twilio)) == 3, what="three SMS with codes")
    codes = [_code_of(database_url, invoice) for invoice in invoices]
    assert sorted(codes) == [1, 2, 3]  # one phone, three open invoices: three codes

    # A forged reply (another token's signature) changes nothing.
    form = {"From": PHONE, "Body": str(codes[1])}
    forged = RequestValidator("not-the-token").compute_signature(INBOUND, form)
    answer = httpx.post(
        reactor.base_url + "/webhooks/twilio/inbound",
        data=form,
        headers={"X-Twilio-Signature": forged},
        timeout=5,
    )
    assert answer.status_code == 403 and _taken(database_url, invoices[1]) is None

    answer = _reply(reactor, f" {codes[1]} ")
    assert answer.status_code == 200 and "is yours" in answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    assert _taken(database_url, invoices[1]) == (PHONE, "sms")
    assert _taken(database_url, invoices[0]) is None and _taken(database_url, invoices[2]) is None
    assert "already yours" in _reply(reactor, str(codes[1])).text

    # Unknown words and codes get a polite TwiML answer, never an error page.
    assert "reply with the number" in _reply(reactor, "yes please").text
    assert "No open invoice has the code 42" in _reply(reactor, "42").text

    # The email recipient is told once who took it.
    def follow_ups() -> list[str]:
        return [
            r.data["subject"] for r in sendgrid.accepted() if r.data["subject"].endswith("is taken")
        ]

    wait_until(lambda: len(follow_ups()) == 1, what="the follow-up email")
    assert EMAIL in [r.recipient for r in sendgrid.accepted() if "is taken" in r.data["subject"]]

    # An old code after its episode ended does nothing.
    query(database_url, FLIP, ("MATCHED", invoices[0]))
    assert "No open invoice" in _reply(reactor, str(codes[0])).text
    assert _taken(database_url, invoices[0]) is None
    assert len(follow_ups()) == 1  # still one: nothing new was taken


def test_stop_silences_the_phone_until_start(
    reactor: ReactorProcess, database_url: str, twilio: FakeTwilio, sendgrid: FakeSendGrid
) -> None:
    first, second, third, fourth = insert_invoices(database_url, 4)
    query(database_url, FLIP, ("NEEDS_REVIEW", first))
    twilio.wait_for(1)
    assert _reply(reactor, "STOP").text.strip().endswith("<Response />")
    assert scalar(database_url, "SELECT source FROM sms_opt_outs WHERE phone = %s", (PHONE,)) == (
        "reply"
    )

    query(database_url, FLIP, ("NEEDS_REVIEW", second))
    sms = "SELECT status, error_message FROM notifications WHERE invoice_id = %s AND method = %s"
    wait_until(lambda: query(database_url, sms, (second, "sms")), what="the SMS row")
    assert query(database_url, sms, (second, "sms"))[0] == (
        "SKIPPED",
        "the phone opted out of SMS (STOP)",
    )
    wait_until(lambda: query(database_url, sms, (second, "email"))[0][0] == "SENT", what="email")
    assert len(twilio.accepted()) == 1  # no SMS was attempted

    _reply(reactor, "start")
    assert scalar(database_url, "SELECT count(*) FROM sms_opt_outs") == 0
    query(database_url, FLIP, ("NEEDS_REVIEW", third))
    twilio.wait_for(2)

    # Twilio refusing the number as unsubscribed (21610) records the opt-out too.
    twilio.unsubscribed_numbers.add(PHONE)
    query(database_url, FLIP, ("NEEDS_REVIEW", fourth))
    opt_out = "SELECT source FROM sms_opt_outs WHERE phone = %s"
    wait_until(
        lambda: query(database_url, opt_out, (PHONE,)) == [("provider",)],
        what="the provider's opt-out",
    )
    # The opt-out is written by the sender, the outcome by the batch after it.
    wait_until(lambda: query(database_url, sms, (fourth, "sms"))[0][0] == "FAILED", what="FAILED")
