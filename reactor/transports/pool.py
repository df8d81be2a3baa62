"""One keep-alive HTTP session per provider, shared by every sender task on the event loop.

Sends run as asyncio tasks on aiohttp (the library the Twilio SDK's own async
client is built on): measured against the bench's fakes over HTTPS, one event loop
spends about a third of the CPU per request that 80 threads contending for the
interpreter lock did on urllib3 (bench/results/NOTES.md). Over HTTPS each pooled
connection pays its TLS handshake once, not per message.
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp

# What a request raises instead of answering: refused, reset and timed-out
# connections, TLS failures. aiohttp never re-sends a request on its own.
POOL_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificates checked against `ca_bundle`, else the system store (and SSL_CERT_FILE)."""
    return ssl.create_default_context(cafile=ca_bundle)


class ProviderSession:
    """A lazily opened aiohttp session of at most `size` keep-alive connections.

    Opened on first use, inside the running event loop (aiohttp binds a session to
    its loop), so a transport can be built before the loop starts.
    """

    def __init__(
        self,
        *,
        ca_bundle: str | None,
        size: int,
        timeout: float,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._ca_bundle = ca_bundle
        self._size = size
        self._timeout = timeout
        self._headers = headers or {}
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        """The session, opened on the first call."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._size,
                ssl=tls_context(self._ca_bundle),
                enable_cleanup_closed=False,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                # A provider API sets no cookie we would want to send back.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        """Close the pooled connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def path_prefix(base_url: str) -> str:
    """The base URL without its trailing slash."""
    return base_url.rstrip("/")
