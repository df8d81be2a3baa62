"""Slack messages corrected in place once they stop being true.

Every few seconds the corrector reads the Slack messages whose invoices have all left
review (one query on a partial index of the messages still open) and rewrites each
with `chat.update`: what became of the invoice, and no button any more. A message
Slack no longer has (deleted, or its channel archived) is marked corrected too; a
transient failure leaves it for the next round. Two replicas may both correct one
message: the second update says the same thing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import structlog

from reactor.db.connections import DATABASE_ERRORS
from reactor.domain.decisions import FailureClass, SendError
from reactor.domain.messages import ChatMessage
from reactor.messages.slack import left_review_message

if TYPE_CHECKING:
    from reactor.db.store import Store

log = structlog.get_logger("reactor.corrections")

CORRECTION_SECONDS = 5.0
BATCH = 50


@runtime_checkable
class Updates(Protocol):
    """A transport that can replace a message it posted."""

    async def update(self, message_id: str, message: ChatMessage) -> None:
        """Replace the message, or raise SendError."""
        ...


class Corrector:
    """Rewrites the Slack messages whose invoices have all left review."""

    def __init__(self, store: Store, slack: Updates, interval: float = CORRECTION_SECONDS):
        self._store = store
        self._slack = slack
        self._interval = interval
        self.corrected = 0

    async def run(self) -> None:
        """Correct every interval until cancelled."""
        while True:
            try:
                await self.correct_once()
            except DATABASE_ERRORS as error:
                log.debug("could not read the messages to correct", error=type(error).__name__)
            await asyncio.sleep(self._interval)

    async def correct_once(self) -> int:
        """One round: returns how many messages were corrected (or given up on)."""
        done: list[str] = []
        for row in await self._store.slack_to_correct(BATCH):
            message = left_review_message(row["reference"], row["status"], row["invoices"])
            try:
                await self._slack.update(row["message_id"], message)
            except SendError as error:
                if error.failure is not FailureClass.PERMANENT:
                    continue  # Slack's trouble or our token's: next round
                log.info("a Slack message could not be corrected", error=error.message)
            done.append(row["message_id"])
        if done:
            await self._store.mark_corrected(done)
            self.corrected += len(done)
        return len(done)
