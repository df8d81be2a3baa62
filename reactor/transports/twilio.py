"""SMS through the official Twilio SDK's async path, over one keep-alive session.

The SDK builds and parses the request; its async HTTP client abstraction is filled
in with a shared aiohttp session (the library its own async client uses), so every
sender task on the event loop reuses the same kept-alive connections.
"""

from __future__ import annotations

import base64
import logging
from contextvars import ContextVar
from functools import lru_cache
from urllib.parse import urlencode

from multidict import CIMultiDictProxy
from twilio.base.exceptions import TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from reactor.domain.decisions import FailureClass, SendError, classify_twilio, retry_after_seconds
from reactor.domain.enums import Channel
from reactor.domain.messages import Message
from reactor.transports.pool import POOL_ERRORS, ProviderSession

FORM = "application/x-www-form-urlencoded"

# TwilioRestException drops the answer's headers, and with them Retry-After: the
# last answer's headers are kept per sender task for the failure's classification.
_last_headers: ContextVar[CIMultiDictProxy[str] | None] = ContextVar(
    "twilio_last_headers", default=None
)


@lru_cache(maxsize=8)
def basic_auth(user: str, password: str) -> str:
    """The Authorization header for HTTP basic auth (the same few credentials each time)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def form(data: dict[str, object]) -> str:
    """The form-encoded body; lists (repeated fields, e.g. MediaUrl) as repeated keys."""
    repeated = any(isinstance(value, list | tuple) for value in data.values())
    return urlencode(data, doseq=repeated)


# The Twilio SDK has no type information, so its base class is Any to mypy.
class PooledHttpClient(AsyncHttpClient):  # type: ignore[misc]
    """The SDK's async HTTP client over a shared aiohttp session."""

    def __init__(self, session: ProviderSession, timeout: float) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), is_async=True, timeout=timeout)
        self._session = session

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """One request through the session (no redirects: the API never answers with one)."""
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = basic_auth(*auth)
        body = None
        if data:
            headers.setdefault("Content-Type", FORM)
            body = form(data)
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        async with self._session.request(method.upper(), url, data=body, headers=headers) as answer:
            text = await answer.text("utf-8", "replace")
        _last_headers.set(answer.headers)
        return Response(answer.status, text, answer.headers)


class TwilioTransport:
    """Sends one SMS per call; one SDK client and one session shared by every sender task."""

    name = "twilio"
    channel = Channel.SMS

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str,
        timeout: float,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        ca_bundle: str | None = None,
        max_connections: int = 100,
        status_callback: str | None = None,
    ) -> None:
        self._sender: dict[str, str | None] = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number}
        )
        if status_callback:  # receipts on: Twilio calls back with each status
            self._sender["status_callback"] = status_callback
        self._session = ProviderSession(ca_bundle=ca_bundle, size=max_connections, timeout=timeout)
        client = Client(
            account_sid, auth_token, http_client=PooledHttpClient(self._session, timeout)
        )
        client.edge = client.region = None  # TWILIO_EDGE/REGION would rewrite our base URL
        client.api.base_url = base_url.rstrip("/")
        self._messages = client.api.v2010.accounts(account_sid).messages

    async def send(self, recipient: str, message: Message, reference: int = 0) -> str:
        """Send the SMS; return Twilio's message sid."""
        assert isinstance(message, str), "Twilio sends SMS bodies"
        _last_headers.set(None)
        try:
            created = await self._messages.create_async(to=recipient, body=message, **self._sender)
        except TwilioRestException as error:
            raise self._classified(error) from None
        except POOL_ERRORS as error:
            raise SendError(FailureClass.TRANSIENT, f"Twilio unreachable: {error!r}") from None
        return str(created.sid)

    @staticmethod
    def _classified(error: TwilioRestException) -> SendError:
        text = f"Twilio {error.status} (code {error.code}): {error.msg}"
        failure = classify_twilio(int(error.status), error.code)
        if failure is FailureClass.PERMANENT:
            return SendError(failure, text, provider_code=error.code)
        return SendError(
            failure, text, retry_after_seconds(_last_headers.get()), provider_code=error.code
        )

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._session.close()
