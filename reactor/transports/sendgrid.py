"""Email through the official SendGrid SDK."""

from __future__ import annotations

import json
import threading
from http.client import HTTPException

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, Email, Mail, To

from reactor.decisions import FailureClass, SendError, classify_status, retry_after_seconds
from reactor.messages import Message
from reactor.recipients import Channel


def _error_text(error: HTTPError) -> str:
    body = (
        error.body.decode("utf-8", "replace") if isinstance(error.body, bytes) else str(error.body)
    )
    try:
        messages = [item.get("message", "") for item in json.loads(body).get("errors", [])]
    except (ValueError, AttributeError):
        messages = []
    detail = "; ".join(m for m in messages if m) or body[:200] or error.reason
    return f"SendGrid {error.status_code}: {detail}"


class SendGridTransport:
    """Sends one email per call; one SDK client per worker thread, with a timeout."""

    name = "sendgrid"
    channel = Channel.EMAIL

    def __init__(self, api_key: str, from_email: str, host: str, timeout: float) -> None:
        self._api_key = api_key
        self._from = Email(from_email, "invoice-reactor")
        self._host = host.rstrip("/")
        self._timeout = timeout
        self._local = threading.local()

    def prepare_thread(self) -> None:
        """Build this thread's SDK client (and its HTTP session) ahead of the first send."""
        self._client()

    def _client(self) -> SendGridAPIClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = SendGridAPIClient(api_key=self._api_key, host=self._host)
            client.client.timeout = self._timeout  # the SDK sets no timeout by default
            self._local.client = client
        return client

    def send(self, recipient: str, message: Message) -> str:
        """Send the email; return SendGrid's X-Message-Id."""
        assert not isinstance(message, str), "SendGrid sends emails"
        mail = Mail(from_email=self._from, to_emails=To(recipient), subject=message.subject)
        mail.add_content(Content("text/plain", message.text))
        mail.add_content(Content("text/html", message.html))
        try:
            response = self._client().send(mail)
        except HTTPError as error:
            raise SendError(
                classify_status(error.status_code),
                _error_text(error),
                retry_after_seconds(dict(error.headers.items()) if error.headers else None),
            ) from None
        except (OSError, HTTPException) as error:  # URLError, timeouts, resets
            raise SendError(FailureClass.TRANSIENT, f"SendGrid unreachable: {error}") from None
        return response.headers.get("X-Message-Id", "") or ""
