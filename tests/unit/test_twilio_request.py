"""The Twilio SDK's requests as the pooled client writes them (no network)."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest

from reactor.transports.twilio import basic_auth, form


@pytest.mark.parametrize(
    "data",
    [
        {"To": "+1 415", "Body": "a&b=c é ü", "From": "+1555"},
        {"MediaUrl": ["https://a/1", "https://a/2"], "To": "+1"},
        {"Flag": True, "Count": 5, "Empty": None},
    ],
)
def test_form_is_the_sdk_encoding(data: dict[str, object]) -> None:
    assert form(data) == urlencode(data, doseq=True)


def test_basic_auth_header() -> None:
    header = basic_auth("AC123", "tök:en")
    assert header == "Basic " + base64.b64encode("AC123:tök:en".encode()).decode()
    assert basic_auth("AC123", "tök:en") is header  # made once
