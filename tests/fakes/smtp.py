"""A fake SMTP relay: a real aiosmtpd server on 127.0.0.1, STARTTLS required, AUTH checked.

Records every message it accepts (and the session it came in on, to see connection
reuse); a recipient can be scripted to be refused with a given reply.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.helpers import free_port

USER, PASSWORD = "reactor", "relay-secret-password"


@dataclass
class Received:
    """One message the relay accepted."""

    recipients: list[str]
    message: EmailMessage
    session: int  # which connection it came in on


@dataclass
class FakeRelay:
    """The relay's state, shared with its handler (which runs on aiosmtpd's thread)."""

    received: list[Received] = field(default_factory=list)
    # recipient -> replies to give its RCPT TO, one per attempt ("250" lets it through)
    refusals: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            replies = self.refusals.get(address)
            reply = replies.pop(0) if replies else "250 OK"
        if not reply.startswith("250"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), parsed, id(session)))  # type: ignore[arg-type]
        return "250 Message accepted"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


class RelayServer:
    """The relay on a free port; `url(password)` is the SMTP_URL to reach it."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self.relay = FakeRelay()
        self.port = free_port()
        self._controller = Controller(
            self.relay,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=tls,
            require_starttls=True,
            authenticator=_authenticator,
            auth_require_tls=True,
        )

    def url(self, password: str = PASSWORD) -> str:
        """SMTP_URL for this relay (STARTTLS)."""
        return f"smtp://{USER}:{password}@127.0.0.1:{self.port}"

    def start(self) -> RelayServer:
        """Start serving."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._controller.stop()
