"""Fake SendGrid, Twilio and Slack HTTP servers for tests that drive the real provider SDKs.

Usage::

    with FakeSendGrid(api_key="SG.test") as sg, FakeTwilio() as tw, FakeSlack() as sl:
        SendGridAPIClient("SG.test", host=sg.url)      # email
        client = Client(tw.account_sid, tw.auth_token)  # SMS
        client.api.base_url = tw.url
        AsyncWebClient(token=sl.token, base_url=sl.url + "/api/")  # Slack
"""

from .sendgrid import FakeSendGrid
from .server import FakeServer, Headers, RecordedRequest, Reply
from .slack import FakeSlack
from .twilio import FakeTwilio

__all__ = [
    "FakeSendGrid",
    "FakeServer",
    "FakeSlack",
    "FakeTwilio",
    "Headers",
    "RecordedRequest",
    "Reply",
]
