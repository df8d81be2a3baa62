"""Email through SendGrid: the SDK's `Mail` helper builds the body, one pooled client sends it.

The SDK's own HTTP client opens a new connection (and, over HTTPS, a new TLS
handshake) for every request; one keep-alive pool shared by every sender thread
reuses them instead.
"""

from __future__ import annotations

import json

import urllib3
from sendgrid.helpers.mail import Content, Email, Mail, To

from reactor.decisions import FailureClass, SendError, classify_status, retry_after_seconds
from reactor.messages import Message
from reactor.recipients import Channel
from reactor.transports.pool import POOL_ERRORS, connection_pool, path_prefix

SEND_PATH = "/v3/mail/send"


def error_text(status: int, response: urllib3.BaseHTTPResponse) -> str:
    """SendGrid's error messages from its JSON body, else the start of the body."""
    body = response.data.decode("utf-8", "replace")
    try:
        payload = json.loads(body)
        messages = [item.get("message", "") for item in payload.get("errors", [])]
    except (ValueError, AttributeError, TypeError):
        messages = []
    detail = "; ".join(m for m in messages if m) or body[:200] or response.reason or ""
    return f"SendGrid {status}: {detail}"


class SendGridTransport:
    """Sends one email per call over a keep-alive connection pool shared by all threads."""

    name = "sendgrid"
    channel = Channel.EMAIL

    def __init__(
        self,
        api_key: str,
        from_email: str,
        host: str,
        timeout: float,
        ca_bundle: str | None = None,
        max_connections: int = 100,
    ) -> None:
        self._from = Email(from_email, "invoice-reactor")
        self._path = path_prefix(host) + SEND_PATH
        self._pool = connection_pool(
            host,
            ca_bundle=ca_bundle,
            size=max_connections,
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": "invoice-reactor",
            },
        )

    def prepare_thread(self) -> None:
        """Nothing per thread: the client is shared."""

    def send(self, recipient: str, message: Message) -> str:
        """Send the email; return SendGrid's X-Message-Id."""
        assert not isinstance(message, str), "SendGrid sends emails"
        mail = Mail(from_email=self._from, to_emails=To(recipient), subject=message.subject)
        mail.add_content(Content("text/plain", message.text))
        mail.add_content(Content("text/html", message.html))
        try:
            body = json.dumps(mail.get()).encode()
            response = self._pool.urlopen("POST", self._path, body=body, redirect=False)
        except POOL_ERRORS as error:  # timeouts, refused and reset connections, TLS
            raise SendError(FailureClass.TRANSIENT, f"SendGrid unreachable: {error!r}") from None
        if response.status >= 400:
            raise SendError(
                classify_status(response.status),
                error_text(response.status, response),
                retry_after_seconds(response.headers),
            )
        return response.headers.get("X-Message-Id", "") or ""

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.close()
