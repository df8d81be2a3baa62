"""Each channel's live state in this process: paused until, last success and last failure.

Written by the sender tasks, read by the claim path and the probes, all on the event loop.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

# How often a reactor re-reads operators' pauses when no NOTIFY said they changed.
OPERATOR_RECHECK_SECONDS = 30.0


class ChannelState:
    """What one channel's transport has done lately, and whether it is paused here."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self._paused_until = 0.0  # time.monotonic()
        self._last_success_at: datetime | None = None
        self._last_failure_at: datetime | None = None
        self._last_failure_class: str | None = None
        self._last_error: str | None = None  # masked
        self.paused_by: str | None = None  # an operator paused it for every reactor

    def paused_for(self) -> float:
        """Seconds left in the pause, 0 when not paused.

        An operator's pause has no end: it is re-read every OPERATOR_RECHECK_SECONDS,
        so that is how long it is said to last.
        """
        left = max(0.0, self._paused_until - time.monotonic())
        return max(left, OPERATOR_RECHECK_SECONDS) if self.paused_by else left

    def pause(self, seconds: float) -> None:
        """Pause the channel in this process for `seconds` (a longer pause is kept)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def succeeded(self) -> None:
        """A provider accepted a message."""
        self._last_success_at = datetime.now(UTC)

    def failed(self, failure_class: str, masked_error: str) -> None:
        """A send failed; the error text is already masked (it is shown by the probes)."""
        self._last_failure_at = datetime.now(UTC)
        self._last_failure_class = failure_class
        self._last_error = masked_error

    def last_failure(self) -> tuple[str | None, str | None]:
        """(failure class, masked error) of the last failure."""
        return self._last_failure_class, self._last_error

    def snapshot(self) -> dict[str, Any]:
        """Everything above, for /health/status (times as ISO strings)."""
        paused = self.paused_for()
        return {
            "transport": self.transport,
            "last_success_at": _iso(self._last_success_at),
            "last_failure_at": _iso(self._last_failure_at),
            "last_failure_class": self._last_failure_class,
            "last_error": self._last_error,
            "paused_for_seconds": round(paused, 1),
            "paused_by_operator": self.paused_by,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
