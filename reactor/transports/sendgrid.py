"""Email through SendGrid: the SDK's `Mail` helper builds the body, one pooled session sends it.

The SDK's own HTTP client blocks and opens a new connection (and, over HTTPS, a
new TLS handshake) for every request; one keep-alive session shared by every
sender task reuses them instead.
"""

from __future__ import annotations

import json

from sendgrid.helpers.mail import Content, CustomArg, Email, Mail, To

from reactor.domain.decisions import FailureClass, SendError, classify_status, retry_after_seconds
from reactor.domain.enums import Channel
from reactor.domain.messages import Message, RenderedEmail
from reactor.transports.pool import POOL_ERRORS, ProviderSession, path_prefix

SEND_PATH = "/v3/mail/send"
DELIVERY_ARG = "reactor_delivery_id"  # the custom argument receipts are matched by


def error_text(status: int, body: str, reason: str | None) -> str:
    """SendGrid's error messages from its JSON body, else the start of the body."""
    try:
        payload = json.loads(body)
        messages = [item.get("message", "") for item in payload.get("errors", [])]
    except (ValueError, AttributeError, TypeError):
        messages = []
    detail = "; ".join(m for m in messages if m) or body[:200] or reason or ""
    return f"SendGrid {status}: {detail}"


class SendGridTransport:
    """Sends one email per call over a keep-alive session shared by all sender tasks."""

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
        self._url = path_prefix(host) + SEND_PATH
        self._session = ProviderSession(
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

    def body(self, recipient: str, message: Message, reference: int) -> bytes:
        """The request body, as the SDK's `Mail` helper builds it.

        The delivery row's id travels as a custom argument, which SendGrid's Event
        Webhook sends back with every event about the message.
        """
        assert isinstance(message, RenderedEmail), "SendGrid sends emails"
        mail = Mail(from_email=self._from, to_emails=To(recipient), subject=message.subject)
        mail.add_content(Content("text/plain", message.text))
        mail.add_content(Content("text/html", message.html))
        mail.personalizations[0].add_custom_arg(CustomArg(DELIVERY_ARG, str(reference)))
        return json.dumps(mail.get()).encode()

    async def send(self, recipient: str, message: Message, reference: int = 0) -> str:
        """Send the email; return SendGrid's X-Message-Id."""
        body = self.body(recipient, message, reference)
        try:
            async with self._session.request("POST", self._url, data=body) as response:
                payload = await response.read()  # drained: the connection goes back to the pool
        except POOL_ERRORS as error:  # timeouts, refused and reset connections, TLS
            raise SendError(FailureClass.TRANSIENT, f"SendGrid unreachable: {error!r}") from None
        if response.status >= 400:
            raise SendError(
                classify_status(response.status),
                error_text(response.status, payload.decode("utf-8", "replace"), response.reason),
                retry_after_seconds(response.headers),
            )
        return response.headers.get("X-Message-Id", "") or ""

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._session.close()
