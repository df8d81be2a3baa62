"""Fake SendGrid, Twilio, Slack and Teams HTTP servers for tests that drive real clients.

Usage::

    with FakeSendGrid(api_key="SG.test") as sg, FakeTwilio() as tw, FakeSlack() as sl:
        SendGridAPIClient("SG.test", host=sg.url)      # email
        client = Client(tw.account_sid, tw.auth_token)  # SMS
        client.api.base_url = tw.url
        AsyncWebClient(token=sl.token, base_url=sl.url + "/api/")  # Slack

    with FakeTeams() as teams:
        url = teams.webhook("finance")  # POST the Adaptive Card envelope there
"""

from .sendgrid import FakeSendGrid
from .server import FakeServer, Headers, RecordedRequest, Reply
from .slack import FakeSlack
from .teams import FakeTeams
from .twilio import FakeTwilio

__all__ = [
    "FakeSendGrid",
    "FakeServer",
    "FakeSlack",
    "FakeTeams",
    "FakeTwilio",
    "Headers",
    "RecordedRequest",
    "Reply",
]
