"""Operators' channel pauses (from the console), followed by every reactor within seconds.

The pauses live in the database (channel_pauses), so every replica honours them.
A pause or resume is announced on the due channel (NOTIFY), and every reactor
re-reads them then, and every OPERATOR_RECHECK_SECONDS in case a NOTIFY was missed;
it marks its channel states, which the claim path and the senders already respect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

import structlog

from reactor.db.store import Store
from reactor.domain.enums import Channel
from reactor.pipeline.channels import OPERATOR_RECHECK_SECONDS, ChannelState

log = structlog.get_logger("reactor.pauses")


class OperatorPauses:
    """Keeps this process's channel states in step with the channel_pauses table."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[Channel, ChannelState],
        on_resume: Callable[[], None],
    ) -> None:
        self._store = store
        self._channels = channels
        self._on_resume = on_resume
        self._changed = asyncio.Event()

    def wake(self) -> None:
        """Someone announced a change (the due channel's NOTIFY): re-read now."""
        self._changed.set()

    async def refresh(self) -> None:
        """Read the pauses once and apply them."""
        paused = {row["method"]: row["paused_by"] for row in await self._store.channel_pauses()}
        resumed = False
        for channel, state in self._channels.items():
            before, state.paused_by = state.paused_by, paused.get(channel.value)
            if before != state.paused_by:
                log.info(
                    "channel paused by an operator" if state.paused_by else "channel resumed",
                    channel=channel.value,
                    by=state.paused_by,
                )
                resumed = resumed or state.paused_by is None
        if resumed:
            self._on_resume()

    async def run(self) -> None:
        """Refresh on every wake-up and every OPERATOR_RECHECK_SECONDS, until cancelled."""
        while True:
            self._changed.clear()
            try:
                await self.refresh()
            except Exception as error:  # the database is away: keep the last known pauses
                log.debug("could not read channel pauses", error=type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), OPERATOR_RECHECK_SECONDS)
