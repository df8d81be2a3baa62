"""Email through SendGrid: the SDK's `Mail` helper builds the body, one pooled client sends it.

The SDK's own HTTP client opens a new connection (and, over HTTPS, a new TLS
handshake) for every request; one `httpx.Client` shared by every sender thread
keeps connections alive instead.
"""

from __future__ import annotations

import httpx
from sendgrid.helpers.mail import Content, Email, Mail, To

from reactor.decisions import FailureClass, SendError, classify_status, retry_after_seconds
from reactor.messages import Message
from reactor.recipients import Channel

SEND_PATH = "/v3/mail/send"


def error_text(status: int, response: httpx.Response) -> str:
    """SendGrid's error messages from its JSON body, else the start of the body."""
    try:
        payload = response.json()
        messages = [item.get("message", "") for item in payload.get("errors", [])]
    except (ValueError, AttributeError):
        messages = []
    detail = "; ".join(m for m in messages if m) or response.text[:200] or response.reason_phrase
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
        self._client = httpx.Client(
            base_url=host.rstrip("/"),
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": "invoice-reactor",
            },
            timeout=timeout,
            verify=ca_bundle or True,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
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
            response = self._client.post(SEND_PATH, json=mail.get())
        except httpx.HTTPError as error:  # timeouts, refused and reset connections, TLS
            raise SendError(FailureClass.TRANSIENT, f"SendGrid unreachable: {error!r}") from None
        if response.status_code >= 400:
            raise SendError(
                classify_status(response.status_code),
                error_text(response.status_code, response),
                retry_after_seconds(response.headers),
            )
        return response.headers.get("X-Message-Id", "") or ""

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()
