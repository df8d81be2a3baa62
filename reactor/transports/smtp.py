"""Email through the company's own SMTP relay (Microsoft 365, Google Workspace, SES, Postfix).

The same rendered email (text and HTML parts) through `aiosmtplib`, over a few
kept-alive connections: `smtp://` requires STARTTLS, `smtps://` is TLS from the
first byte; certificates are checked against the system store or
PROVIDER_CA_BUNDLE. The relay's replies are classified like a provider's: 4xx
transient, 5xx permanent, refused credentials pause the channel.
"""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from reactor.domain.decisions import FailureClass, SendError
from reactor.domain.enums import Channel
from reactor.domain.messages import Message, RenderedEmail
from reactor.settings.smtp import SmtpServer
from reactor.transports.pool import tls_context

# A kept-alive connection idle longer than this is checked (NOOP) before reuse:
# relays close idle connections, and a send must not find out halfway.
IDLE_CHECK_SECONDS = 10.0


def classify_reply(code: int) -> FailureClass:
    """An SMTP reply's failure class: 4xx try again later, 5xx never (535: credentials)."""
    if code in (530, 534, 535):
        return FailureClass.AUTH
    return FailureClass.TRANSIENT if 400 <= code < 500 else FailureClass.PERMANENT


class SmtpTransport:
    """Sends one email per call over up to `connections` kept-alive SMTP sessions."""

    name = "smtp"
    channel = Channel.EMAIL

    def __init__(
        self,
        server: SmtpServer,
        from_address: str,
        timeout: float,
        ca_bundle: str | None = None,
        connections: int = 4,
    ) -> None:
        self._server = server
        self._from = from_address
        self._domain = from_address.rpartition("@")[2] or "invoice-reactor"
        self._timeout = timeout
        self._ca_bundle = ca_bundle
        self._size = connections
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._slots: asyncio.Semaphore | None = None

    def message(self, recipient: str, message: Message) -> EmailMessage:
        """The MIME message: a text part and an HTML alternative, with our Message-ID."""
        assert isinstance(message, RenderedEmail), "SMTP sends emails"
        mail = EmailMessage()
        mail["From"] = self._from
        mail["To"] = recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self._domain)
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        return mail

    async def send(self, recipient: str, message: Message, reference: int = 0) -> str:
        """Send the email; return the Message-ID header we set."""
        mail = self.message(recipient, message)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._size)
        async with self._slots:
            client = await self._connection()
            try:
                await client.send_message(mail)
            # A refusal leaves the session usable: aiosmtplib resets the envelope (RSET).
            except aiosmtplib.SMTPRecipientsRefused as refused:
                self._keep(client)
                first = refused.recipients[0]
                raise SendError(classify_reply(first.code), _text(first)) from None
            except aiosmtplib.SMTPResponseException as error:
                self._keep(client)
                raise SendError(classify_reply(error.code), _text(error)) from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                client.close()
                raise SendError(FailureClass.TRANSIENT, f"SMTP unreachable: {error!r}") from None
            self._keep(client)
        return str(mail["Message-ID"])

    async def _connection(self) -> aiosmtplib.SMTP:
        """A kept-alive session that still answers, or a new one (TLS, logged in)."""
        while self._idle:
            client, since = self._idle.pop()
            if not client.is_connected:
                continue
            if time.monotonic() - since < IDLE_CHECK_SECONDS:
                return client
            try:
                await client.noop()
                return client
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
        return await self._connect()

    async def _connect(self) -> aiosmtplib.SMTP:
        server = self._server
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            use_tls=server.implicit_tls,
            start_tls=not server.implicit_tls,  # smtp:// without STARTTLS is refused
            tls_context=tls_context(self._ca_bundle),
            timeout=self._timeout,
        )
        try:
            await client.connect()
            if server.username:
                await client.login(server.username, server.password or "")
        except aiosmtplib.SMTPResponseException as error:
            client.close()
            raise SendError(classify_reply(error.code), _text(error)) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            client.close()
            raise SendError(FailureClass.TRANSIENT, f"SMTP unreachable: {error!r}") from None
        return client

    def _keep(self, client: aiosmtplib.SMTP) -> None:
        self._idle.append((client, time.monotonic()))

    async def close(self) -> None:
        """Say goodbye to the kept-alive sessions."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            try:
                await asyncio.wait_for(client.quit(), self._timeout)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


def _text(error: aiosmtplib.SMTPResponseException) -> str:
    return f"SMTP {error.code}: {error.message}"
