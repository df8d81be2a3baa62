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
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from reactor.domain.decisions import next_in_flight_limit

# What a request raises instead of answering: refused, reset and timed-out
# connections, TLS failures. aiohttp never re-sends a request on its own.
POOL_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificates checked against `ca_bundle`, else the system store (and SSL_CERT_FILE)."""
    return ssl.create_default_context(cafile=ca_bundle)


class InFlightLimit:
    """An adaptive cap on the requests in flight to one provider (`next_in_flight_limit`).

    A slow provider gets as many requests in flight as SEND_CONCURRENCY allows; a
    fast one only as many as keep it busy. Kept-alive connections follow the
    requests in flight, so a bulk sent to a fast provider over HTTPS pays a handful
    of TLS handshakes (and their buffers), not one per sender.
    """

    MIN_RTT_WINDOW_SECONDS = 10.0

    def __init__(self, ceiling: int, initial: int = 8, floor: int = 8) -> None:
        self.ceiling = max(1, ceiling)
        self.floor = min(floor, self.ceiling)
        self.limit = max(self.floor, min(initial, self.ceiling))
        self.in_flight = 0
        self._waiting = 0  # tasks waiting for a slot
        self._free = asyncio.Condition()
        # The quickest round trip of this window and of the last: a provider that
        # slows down for good stops being compared with how fast it once was.
        self._min_rtt = self._last_min_rtt = float("inf")
        self._window_ends = time.monotonic() + self.MIN_RTT_WINDOW_SECONDS

    async def _acquire(self) -> float:
        """Take one of the slots for a request (waiting while all are taken); its start."""
        # A free slot is taken without the condition's lock: nothing awaits in between.
        if self.in_flight >= self.limit or self._waiting:
            self._waiting += 1
            try:
                async with self._free:
                    await self._free.wait_for(lambda: self.in_flight < self.limit)
            finally:
                self._waiting -= 1
        self.in_flight += 1
        return time.monotonic()

    async def _release(self, started: float, answered: bool) -> None:
        """Give the slot back; an answered request's round trip adjusts the limit."""
        self.in_flight -= 1
        if answered:
            self._sample(time.monotonic() - started)
        if self._waiting:
            async with self._free:
                self._free.notify(max(1, self.limit - self.in_flight))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the slots for a request; its round trip adjusts the limit."""
        started = await self._acquire()
        answered = False
        try:
            yield
            answered = True
        finally:
            await self._release(started, answered)

    def _sample(self, rtt: float) -> None:
        now = time.monotonic()
        if now >= self._window_ends:
            self._last_min_rtt, self._min_rtt = self._min_rtt, float("inf")
            self._window_ends = now + self.MIN_RTT_WINDOW_SECONDS
        self._min_rtt = min(self._min_rtt, rtt)
        self.limit = next_in_flight_limit(
            self.limit,
            rtt,
            min(self._min_rtt, self._last_min_rtt),
            floor=self.floor,
            ceiling=self.ceiling,
        )


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
        self._limit: InFlightLimit | None = None

    @asynccontextmanager
    async def request(
        self, method: str, url: str, **options: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One request (no redirects) in one of the provider's in-flight slots."""
        session, limit = self._open()
        async with (
            limit.slot(),
            session.request(method, url, allow_redirects=False, **options) as response,
        ):
            yield response

    def _open(self) -> tuple[aiohttp.ClientSession, InFlightLimit]:
        """The session and its limit, made on first use in the running loop."""
        if self._session is None or self._session.closed or self._limit is None:
            connector = aiohttp.TCPConnector(
                limit=self._size,
                ssl=tls_context(self._ca_bundle),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                # A provider API sets no cookie we would want to send back.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._limit = InFlightLimit(ceiling=self._size)
        return self._session, self._limit

    @property
    def in_flight_limit(self) -> int:
        """The current cap on requests in flight (0 before the first request)."""
        return self._limit.limit if self._limit else 0

    async def close(self) -> None:
        """Close the pooled connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def path_prefix(base_url: str) -> str:
    """The base URL without its trailing slash."""
    return base_url.rstrip("/")
