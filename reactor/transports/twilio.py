"""SMS through the official Twilio SDK, over one keep-alive pool shared by all threads.

The SDK builds and parses the request; its HTTP client abstraction is filled in
with a urllib3 pool instead of `requests`, which costs a sender thread about
twice the CPU per message.
"""

from __future__ import annotations

import base64
import logging
import threading
from urllib.parse import urlencode

import urllib3
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.util import parse_url

from reactor.decisions import FailureClass, SendError, classify_twilio, retry_after_seconds
from reactor.messages import Message
from reactor.recipients import Channel
from reactor.transports.pool import POOL_ERRORS, connection_pool

FORM = "application/x-www-form-urlencoded"


class PooledHttpClient(HttpClient):
    """The SDK's HTTP client over a shared urllib3 pool; keeps the last response's headers.

    TwilioRestException drops the headers, and with them Retry-After: one instance
    per thread keeps them for the failure's classification.
    """

    def __init__(self, pool: urllib3.HTTPConnectionPool, timeout: float) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), is_async=False, timeout=timeout)
        self._pool = pool
        self.last_headers: dict[str, str] | None = None

    def request(  # type: ignore[override]
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
        """One request through the pool (no redirects: the API never answers with one)."""
        headers = dict(headers or {})
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        body = None
        if data:
            headers.setdefault("Content-Type", FORM)
            body = urlencode(data, doseq=True)
        target = parse_url(url).request_uri
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params, doseq=True)
        answer = self._pool.urlopen(
            method.upper(),
            target,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(total=timeout or self.timeout),
            redirect=False,
        )
        self.last_headers = dict(answer.headers)
        return Response(answer.status, answer.data.decode("utf-8", "replace"), answer.headers)


class TwilioTransport:
    """Sends one SMS per call; one SDK client per worker thread, one connection pool."""

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
    ) -> None:
        self._sid = account_sid
        self._token = auth_token
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._sender = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number}
        )
        self._local = threading.local()
        self._pool = connection_pool(
            self._base_url, ca_bundle=ca_bundle, size=max_connections, timeout=timeout
        )

    def prepare_thread(self) -> None:
        """Build this thread's SDK client ahead of the first send."""
        self._client()

    def _client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            http = PooledHttpClient(self._pool, self._timeout)
            client = Client(self._sid, self._token, http_client=http)
            client.edge = client.region = None  # TWILIO_EDGE/REGION would rewrite our base URL
            client.api.base_url = self._base_url
            self._local.client = client
            self._local.messages = client.api.v2010.accounts(self._sid).messages
        return client

    def send(self, recipient: str, message: Message) -> str:
        """Send the SMS; return Twilio's message sid."""
        assert isinstance(message, str), "Twilio sends SMS bodies"
        client = self._client()
        try:
            created = self._local.messages.create(to=recipient, body=message, **self._sender)
        except TwilioRestException as error:
            raise self._classified(error, client) from None
        except POOL_ERRORS as error:
            raise SendError(FailureClass.TRANSIENT, f"Twilio unreachable: {error}") from None
        return str(created.sid)

    @staticmethod
    def _classified(error: TwilioRestException, client: Client) -> SendError:
        text = f"Twilio {error.status} (code {error.code}): {error.msg}"
        failure = classify_twilio(int(error.status), error.code)
        if failure is FailureClass.PERMANENT:
            return SendError(failure, text)
        headers = getattr(client.http_client, "last_headers", None)
        return SendError(failure, text, retry_after_seconds(headers))

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.close()
