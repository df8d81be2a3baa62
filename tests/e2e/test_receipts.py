"""Delivery receipts end to end: the providers' callbacks, signed as they sign them.

A real reactor process sends through the fakes with PUBLIC_BASE_URL set; the tests
then call its webhook routes as Twilio and SendGrid would: Twilio's signature from
the SDK's RequestValidator, SendGrid's from an ECDSA key pair made here.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from tests.fakes import FakeSendGrid, FakeTwilio
from tests.helpers import (
    PHONE,
    TWILIO_TOKEN,
    ReactorProcess,
    insert_invoices,
    query,
    run_cli,
    wait_until,
)

# Receipts are the reactor's own rows in either mode (replica mode changes only where
# invoices come from, which tests/e2e/test_delivery.py covers): direct mode only.

PUBLIC = "https://reactor.acme.example"
TWILIO_URL = PUBLIC + "/webhooks/twilio/status"
EMAIL = "ap@acme.example"
KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_KEY = base64.b64encode(
    KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def _env(reactor_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        **reactor_env,
        "NOTIFICATION_RECIPIENTS": f"{EMAIL},{PHONE}",
        "PUBLIC_BASE_URL": PUBLIC,
        "SENDGRID_WEBHOOK_PUBLIC_KEY": PUBLIC_KEY,
        **extra,
    }


@pytest.fixture
def reactor(reactor_env: dict[str, str], tmp_path: Path) -> Iterator[ReactorProcess]:
    process = ReactorProcess(_env(reactor_env), tmp_path / "reactor.log").start()
    yield process
    process.stop()


def _sent(url: str, invoices_url: str, count: int) -> dict[str, tuple[int, str]]:
    """Insert `count` invoices and wait until every row is SENT: method -> [(id, message id)]."""
    insert_invoices(invoices_url, count, status="NEEDS_REVIEW")
    sent = "SELECT count(*) FROM notifications WHERE status = 'SENT'"
    wait_until(lambda: query(url, sent) == [(2 * count,)], what="all SENT")
    return query(url, "SELECT id, method, provider_message_id FROM notifications ORDER BY id")


def _receipts(url: str) -> list[tuple]:
    return query(url, "SELECT id, receipt_status, receipt_error FROM notifications ORDER BY id")


def _twilio(
    reactor: ReactorProcess, form: dict[str, str], sign_url: str = TWILIO_URL, **headers: str
) -> httpx.Response:
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(sign_url, form)
    return _post_twilio(reactor, form, {"X-Twilio-Signature": signature, **headers})


def _post_twilio(
    reactor: ReactorProcess, form: dict[str, str] | str, headers: dict[str, str]
) -> httpx.Response:
    url = reactor.base_url + "/webhooks/twilio/status"
    if isinstance(form, str):  # a raw body
        headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        return httpx.post(url, content=form, headers=headers, timeout=5)
    return httpx.post(url, data=form, headers=headers, timeout=5)


def test_a_signed_twilio_callback_records_the_receipt_and_nothing_else_does(
    reactor: ReactorProcess, database_url: str, invoices_url: str, twilio: FakeTwilio
) -> None:
    rows = _sent(database_url, invoices_url, 1)
    (sms_id, _, sid) = next(r for r in rows if r[1] == "sms")
    assert twilio.accepted()[0].data["StatusCallback"] == TWILIO_URL
    form = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    before = _receipts(database_url)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_URL, form)
    tampered = {**form, "MessageStatus": "undelivered"}  # signed as "delivered"
    refused = [
        _post_twilio(reactor, form, {"X-Twilio-Signature": "d3Jvbmc="}),  # wrong
        _post_twilio(reactor, form, {}),  # missing
        _post_twilio(reactor, tampered, {"X-Twilio-Signature": signature}),
    ]
    refused.append(_twilio(reactor, form, "https://evil.example/webhooks/twilio/status"))
    # A forwarded host from a client that is not a trusted proxy is not believed.
    refused.append(
        _twilio(
            reactor,
            form,
            "https://other.example/webhooks/twilio/status",
            **{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "other.example"},
        )
    )
    assert [r.status_code for r in refused] == [403] * 5
    assert _receipts(database_url) == before  # nothing changed
    ok = _twilio(reactor, form)
    assert (ok.status_code, ok.content) == (200, b"")
    late = _twilio(reactor, {**form, "MessageStatus": "sent"})  # out of order: ignored
    assert late.status_code == 200
    unknown = _twilio(reactor, {**form, "MessageSid": "SM" + "f" * 32})
    assert unknown.status_code == 200
    receipts = {r[0]: r[1:] for r in _receipts(database_url)}
    assert receipts[sms_id] == ("delivered", None)
    assert [v for k, v in receipts.items() if k != sms_id] == [(None, None)]  # the email


def test_a_trusted_proxy_may_say_which_url_twilio_called(
    reactor_env: dict[str, str], database_url: str, invoices_url: str, tmp_path: Path
) -> None:
    env = _env(reactor_env, TRUSTED_PROXIES="127.0.0.1/32, 10.0.0.0/8")
    process = ReactorProcess(env, tmp_path / "proxied.log").start()
    try:
        sid = next(r[2] for r in _sent(database_url, invoices_url, 1) if r[1] == "sms")
        form = {"MessageSid": sid, "MessageStatus": "delivered"}
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.acme.example"}
        seen = "https://hooks.acme.example/webhooks/twilio/status"
        assert _twilio(process, form, seen, **forwarded).status_code == 200
    finally:
        process.stop()
    assert ("delivered", None) in [r[1:] for r in _receipts(database_url)]


def test_an_undelivered_sms_shows_among_the_failures(
    reactor: ReactorProcess, database_url: str, invoices_url: str
) -> None:
    rows = _sent(database_url, invoices_url, 1)
    sid = next(r[2] for r in rows if r[1] == "sms")
    form = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert _twilio(reactor, form).status_code == 200
    status = run_cli(["status"], reactor.env)
    assert "not delivered (undelivered): Twilio error 30003" in status.stdout
    assert "undelivered 100%" in status.stdout
    report = json.loads(run_cli(["status", "--json"], reactor.env).stdout)
    assert report["receipts_last_day"]["sms"] == {"receipts": 1, "share": {"undelivered": 1.0}}
    health = reactor.get("/health/status").json()
    assert health["backlog"]["receipts_last_day"]["sms"]["share"] == {"undelivered": 1.0}


def _sendgrid(
    reactor: ReactorProcess,
    events: list[dict[str, Any]] | str,
    *,
    timestamp: int | None = None,
    sign: str | None = None,
    signed: bool = True,
) -> httpx.Response:
    payload = events if isinstance(events, str) else json.dumps(events)
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    headers = {"Content-Type": "application/json"}
    if signed:
        der = KEY.sign((stamp + (sign or payload)).encode(), ec.ECDSA(hashes.SHA256()))
        headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(der).decode()
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = stamp
    return httpx.post(
        reactor.base_url + "/webhooks/sendgrid/events", content=payload, headers=headers, timeout=5
    )


def test_signed_sendgrid_events_record_receipts_once(
    reactor: ReactorProcess, database_url: str, invoices_url: str, sendgrid: FakeSendGrid
) -> None:
    rows = _sent(database_url, invoices_url, 3)
    first, second, third = [r[0] for r in rows if r[1] == "email"]
    custom = [r.json()["personalizations"][0]["custom_args"] for r in sendgrid.accepted()]
    assert sorted(int(c["reactor_delivery_id"]) for c in custom) == [first, second, third]

    def event(delivery: int, kind: str, event_id: str, **extra: Any) -> dict[str, Any]:
        return {
            "event": kind,
            "sg_event_id": event_id,
            "email": EMAIL,
            "reactor_delivery_id": str(delivery),
            "timestamp": int(time.time()),
            **extra,
        }

    batch = [
        event(first, "delivered", "e1"),
        event(second, "deferred", "e2"),
        event(third, "bounce", "e3", reason="550 5.1.1 <ap@acme.example>: user unknown"),
        event(first, "open", "e4"),
    ]
    before = _receipts(database_url)
    payload = json.dumps(batch)
    refused = [
        _sendgrid(reactor, batch, signed=False),  # unsigned
        _sendgrid(reactor, json.dumps(batch, indent=1), sign=payload),  # re-serialised
        _sendgrid(reactor, batch, timestamp=int(time.time()) - 3600),  # stale
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert _receipts(database_url) == before
    assert _sendgrid(reactor, batch).status_code == 200
    # A replay (the same event ids, whatever they now say) changes nothing.
    replay = [event(second, "dropped", "e2")]
    assert _sendgrid(reactor, replay).status_code == 200
    receipts = {r[0]: r[1:] for r in _receipts(database_url)}
    assert receipts[first] == ("delivered", None)
    assert receipts[second] == ("deferred", None)
    assert receipts[third] == ("bounce", "550 5.1.1 <a***@acme.example>: user unknown")
    metrics = reactor.get("/metrics").text
    assert 'reactor_receipts_total{channel="email",status="open"} 1.0' in metrics
    assert 'reactor_webhook_rejected_total{provider="sendgrid",reason="stale"} 1.0' in metrics


def test_huge_and_junk_bodies_are_refused_and_change_nothing(
    reactor: ReactorProcess, database_url: str, invoices_url: str
) -> None:
    _sent(database_url, invoices_url, 1)
    before = _receipts(database_url)
    huge = "x" * (2 << 20)
    assert _sendgrid(reactor, huge).status_code == 413
    assert _post_twilio(reactor, huge, {"X-Twilio-Signature": "x"}).status_code == 413
    assert _sendgrid(reactor, "[{not json").status_code == 400
    assert _sendgrid(reactor, '{"event": "delivered"}').status_code == 400  # not a list
    junk = httpx.post(
        reactor.base_url + "/webhooks/twilio/status",
        content=b"\xff\xfe&&==",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert junk.status_code == 400
    assert _receipts(database_url) == before
    metrics = reactor.get("/metrics").text
    assert 'reactor_webhook_rejected_total{provider="sendgrid",reason="too_large"} 1.0' in metrics
    assert 'reactor_webhook_rejected_total{provider="twilio",reason="malformed"} 1.0' in metrics
