"""Microsoft Teams channels through Workflows webhooks: one Adaptive Card per message.

The flow is "When a Teams webhook request is received"; the card travels in the
`attachments` envelope it expects.

A webhook's URL is a secret (its signature is in the query string): no error text,
log line or message id carries it. Teams allows about 4 requests per second per
webhook, so requests to one webhook are paced at that rate. A Workflows webhook
answers 202 with no id and cannot edit a posted card: the message id is our own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping

from reactor.domain.decisions import (
    FailureClass,
    SendError,
    classify_status,
    retry_after_seconds,
)
from reactor.domain.enums import Channel
from reactor.domain.messages import CardMessage, Message
from reactor.transports.pool import POOL_ERRORS, ProviderSession

CARD = "application/vnd.microsoft.card.adaptive"
REQUESTS_PER_SECOND = 3.8  # Teams allows about 4 per webhook: a margin for jitter


class Pacer:
    """Spaces the requests to one webhook at least 1/rate seconds apart."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0

    async def turn(self) -> None:
        """Wait for this request's turn."""
        now = time.monotonic()
        start = max(now, self._next)
        self._next = start + self._interval
        if start > now:
            await asyncio.sleep(start - now)


class TeamsTransport:
    """Posts one card per call to the webhook named by the recipient (`teams:NAME`)."""

    name = "teams"
    channel = Channel.TEAMS

    def __init__(
        self,
        webhooks: Mapping[str, str],
        timeout: float,
        ca_bundle: str | None = None,
        max_connections: int = 100,
        rate: float = REQUESTS_PER_SECOND,
    ) -> None:
        self._webhooks = dict(webhooks)
        self._pacers = {name: Pacer(rate) for name in webhooks}
        self._session = ProviderSession(ca_bundle=ca_bundle, size=max_connections, timeout=timeout)

    async def send(self, recipient: str, message: Message, reference: int = 0) -> str:
        """Post the card; return a message id of our own (Teams gives none)."""
        assert isinstance(message, CardMessage), "Teams sends Adaptive Cards"
        name = recipient.removeprefix("teams:")
        url = self._webhooks.get(name)
        if url is None:  # start-up checks every recipient: only a rules change gets here
            raise SendError(FailureClass.PERMANENT, f"no Teams webhook named {name!r}")
        body = {
            "type": "message",
            "attachments": [{"contentType": CARD, "contentUrl": None, "content": message.card}],
        }
        await self._pacers[name].turn()
        try:
            async with self._session.request("POST", url, json=body) as answer:
                status, headers = answer.status, answer.headers
                await answer.read()
        except POOL_ERRORS as error:  # its text may name the URL: only its kind is kept
            raise SendError(
                FailureClass.TRANSIENT, f"Teams unreachable: {type(error).__name__}"
            ) from None
        if 200 <= status < 300:
            return f"teams-{uuid.uuid4().hex}"
        failure = classify_status(status)
        if failure is FailureClass.AUTH:  # a 401 is a wrong or revoked URL: that row's
            failure = FailureClass.PERMANENT
        text = f"Teams {status}"
        if failure is FailureClass.PERMANENT:
            raise SendError(failure, text)
        raise SendError(failure, text, retry_after_seconds(headers))

    async def close(self) -> None:
        """Close the kept-alive connections."""
        await self._session.close()
