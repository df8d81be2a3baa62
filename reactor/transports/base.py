"""What every transport is: send one rendered message to one recipient."""

from __future__ import annotations

from typing import Protocol

from reactor.messages import Message
from reactor.recipients import Channel


class Transport(Protocol):
    """Delivers messages of one channel. `send` returns the provider's message id.

    A failure is raised as `reactor.decisions.SendError`, classified there.
    """

    name: str
    channel: Channel

    def send(self, recipient: str, message: Message) -> str:
        """Send, or raise SendError."""
        ...

    def prepare_thread(self) -> None:
        """Build this thread's SDK client now, so the first send does not pay for it."""
        ...
