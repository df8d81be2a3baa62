"""SMS through the official Twilio SDK, on one keep-alive session shared by all threads."""

from __future__ import annotations

import os
import threading

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from reactor.decisions import FailureClass, SendError, classify_twilio, retry_after_seconds
from reactor.messages import Message
from reactor.recipients import Channel


class _HeaderKeepingHttpClient(TwilioHttpClient):
    """Keeps the last response's headers, which TwilioRestException drops (Retry-After)."""

    last_headers: dict[str, str] | None = None

    def request(self, *args: object, **kwargs: object) -> Response:  # type: ignore[override]
        response = super().request(*args, **kwargs)  # type: ignore[arg-type]
        self.last_headers = dict(response.headers or {})
        return response


def _shared_session(base_url: str, ca_bundle: str | None, size: int) -> requests.Session:
    """A session whose connection pool all sender threads share (urllib3's is thread-safe)."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # requests reads the proxy settings from the whole environment on every call
    # unless told otherwise: read them once here instead.
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(base_url)
    session.verify = ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE") or True
    return session


class TwilioTransport:
    """Sends one SMS per call; one SDK client (and HTTP session) per worker thread."""

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
        self._session = _shared_session(self._base_url, ca_bundle, max_connections)

    def prepare_thread(self) -> None:
        """Build this thread's SDK client ahead of the first send."""
        self._client()

    def _client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            http = _HeaderKeepingHttpClient(timeout=self._timeout)
            # One session (and its keep-alive connection pool) for every thread: a
            # session per thread would open, and over HTTPS handshake, one each.
            http.session = self._session
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
        except (requests.RequestException, OSError) as error:
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
