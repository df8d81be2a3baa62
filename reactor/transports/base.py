"""What every transport is: send one rendered message to one recipient."""

from __future__ import annotations

from typing import Protocol

from reactor.domain.enums import Channel
from reactor.domain.messages import Message


class Transport(Protocol):
    """Delivers messages of one channel. `send` returns the provider's message id.

    Sends run as tasks on the event loop, many at once. A failure is raised as
    `reactor.decisions.SendError`, classified there.
    """

    name: str
    channel: Channel

    async def send(self, recipient: str, message: Message, reference: int) -> str:
        """Send, or raise SendError. `reference` is the delivery row's id (for receipts)."""
        ...

    async def close(self) -> None:
        """Close kept-alive connections (the transport reopens them if used again)."""
        ...
