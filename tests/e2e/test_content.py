"""Untrusted invoice text, through the real path: escaped HTML, one-segment SMS."""

from __future__ import annotations

import html
import json
import uuid

from reactor.messages import sms
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.fakes.contracts import (
    contracts_available,
    validate_sendgrid_request,
    validate_twilio_request,
)
from tests.helpers import ReactorProcess, query

HOSTILE = '<script>alert("pwned")</script> O\'Brien & "Sons" ' + "Z" * 10_000


def _invoice(url: str, vendor: str) -> str:
    invoice = str(uuid.uuid4())
    query(
        url,
        "INSERT INTO invoices (id, vendor_name, total_amount, matched_status) "
        "VALUES (%s, %s, 0, 'NEEDS_REVIEW')",
        (invoice, vendor),
    )
    return invoice


def test_hostile_vendor_is_escaped_and_sms_fits(
    reactor: ReactorProcess, database_url: str, sendgrid: FakeSendGrid, twilio: FakeTwilio
) -> None:
    invoice = _invoice(database_url, HOSTILE)
    [email, *_] = sendgrid.wait_for(2)
    [text, *_] = twilio.wait_for(2)

    content = {c["type"]: c["value"] for c in email.data["content"]}
    assert "<script>" not in content["text/html"]
    assert (
        html.escape('<script>alert("pwned")</script>', quote=True) in content["text/html"]
        or "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in content["text/html"]
    )
    assert '<script>alert("pwned")</script>' in content["text/plain"]
    assert "$0.00" in content["text/plain"]
    assert "\n" not in email.data["subject"]

    body = text.data["Body"]
    assert sms.segments(body) == 1
    assert body.endswith(f"https://ap.example.com/invoices/{invoice}")
    if contracts_available():
        validate_sendgrid_request(email)
        validate_twilio_request(text)


def test_non_gsm_vendor_sms_fits_one_segment_with_intact_link(
    reactor: ReactorProcess, database_url: str, twilio: FakeTwilio
) -> None:
    vendor = "Żółć Kraków Ωmega 東京 " * 300
    invoice = _invoice(database_url, vendor)
    bodies = [r.data["Body"] for r in twilio.wait_for(2)]
    link = f"https://ap.example.com/invoices/{invoice}"
    for body in bodies:
        assert sms.segments(body) == 1, json.dumps(body)
        assert body.endswith(link)
