"""Fake SendGrid and Twilio HTTP servers for tests that drive the real provider SDKs.

Usage::

    with FakeSendGrid(api_key="SG.test") as sg, FakeTwilio() as tw:
        SendGridAPIClient("SG.test", host=sg.url)      # email
        client = Client(tw.account_sid, tw.auth_token)  # SMS
        client.api.base_url = tw.url
"""

from .sendgrid import FakeSendGrid
from .server import FakeServer, Headers, RecordedRequest, Reply
from .twilio import FakeTwilio

__all__ = ["FakeSendGrid", "FakeServer", "FakeTwilio", "Headers", "RecordedRequest", "Reply"]
