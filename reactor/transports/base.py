"""What every transport is: send one rendered message to one recipient."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol

from reactor.messages import RenderedEmail
from reactor.recipients import Channel

Message = RenderedEmail | str  # an email, or an SMS body


class FailureClass(StrEnum):
    """Why a send failed, which decides what happens to the row."""

    TRANSIENT = "transient"  # 429, 5xx, timeouts, connection errors: retry later
    PERMANENT = "permanent"  # the provider refused this recipient or message: FAILED now
    AUTH = "auth"  # our credentials were refused: pause the channel, keep rows pending


class SendError(Exception):
    """A send that did not reach the provider's acceptance."""

    def __init__(self, failure: FailureClass, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.retry_after = retry_after


class Transport(Protocol):
    """Delivers messages of one channel. `send` returns the provider's message id."""

    name: str
    channel: Channel

    def send(self, recipient: str, message: Message) -> str:
        """Send, or raise SendError."""
        ...

    def prepare_thread(self) -> None:
        """Build this thread's SDK client now, so the first send does not pay for it."""
        ...


def classify_status(status: int) -> FailureClass:
    """The failure class of an HTTP error status."""
    if status == 401:
        return FailureClass.AUTH
    if status == 429 or status >= 500 or status == 408:
        return FailureClass.TRANSIENT
    return FailureClass.PERMANENT


def retry_after_seconds(
    headers: Mapping[str, str] | None, now: float | None = None
) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or X-RateLimit-Reset (epoch)."""
    if not headers:
        return None
    now = time.time() if now is None else now
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return max(0.0, parsed.timestamp() - now)
    reset = headers.get("X-RateLimit-Reset") or headers.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - now)
    return None
