"""Slack messages corrected in place once they stop being true.

Every few seconds the corrector reads the Slack messages whose invoices have all left
review (one query on a partial index of the messages still open) and rewrites each
with `chat.update`: what became of the invoice, and no button any more. A message
whose invoice somebody took is rewritten once to say who has it. A message
Slack no longer has (deleted, or its channel archived) is marked corrected too; a
transient failure leaves it for the next round. Two replicas may both correct one
message: the second update says the same thing.
"""

from __future__ import annotations

import asyncio
import gettext
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import structlog

from reactor.db.connections import DATABASE_ERRORS
from reactor.domain.decisions import FailureClass, SendError
from reactor.domain.messages import ChatMessage
from reactor.messages.slack import left_review_message, taken_message

if TYPE_CHECKING:
    from reactor.db.store import Store
    from reactor.messages.renderer import MessageRenderer

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

    def __init__(
        self,
        store: Store,
        slack: Updates,
        renderer: MessageRenderer,
        locales: Mapping[str, str],
        interval: float = CORRECTION_SECONDS,
    ):
        self._store = store
        self._slack = slack
        self._renderer = renderer
        self._locales = locales  # channel -> locale (the rules'); others: the default
        self._interval = interval
        self.corrected = 0

    async def run(self) -> None:
        """Correct every interval until cancelled."""
        while True:
            try:
                await self.correct_once()
            except DATABASE_ERRORS as error:
                log.debug("could not read the messages to correct", error=type(error).__name__)
            except Exception:  # a correction is never worth stopping the service for
                log.exception("a round of Slack corrections failed")
            await asyncio.sleep(self._interval)

    async def correct_once(self) -> int:
        """One round: returns how many messages were rewritten (or given up on)."""
        done: list[str] = []
        for row in await self._store.slack_to_correct(BATCH):
            words = self._renderer.words(self._locales.get(row["recipient"]))
            message = left_review_message(row["reference"], row["status"], row["invoices"], words)
            if await self._rewrite(row["message_id"], message):
                done.append(row["message_id"])
        if done:
            await self._store.mark_corrected(done)
        noted: list[str] = []
        for row in await self._store.slack_to_note_taken(BATCH):
            link = self._renderer.link(str(row["invoice_id"]))
            message = taken_message(
                row["reference"], row["taken_by"], link, self._words(row["recipient"])
            )
            if await self._rewrite(row["message_id"], message):
                noted.append(row["message_id"])
        if noted:
            await self._store.mark_taken_noted(noted)
        self.corrected += len(done) + len(noted)
        return len(done) + len(noted)

    def _words(self, channel: str) -> gettext.NullTranslations:
        """The catalog of the channel's locale, else of DEFAULT_LOCALE."""
        return self._renderer.words(self._locales.get(channel))

    async def _rewrite(self, message_id: str, message: ChatMessage) -> bool:
        """Whether the message is done with: rewritten, or lost for good."""
        try:
            await self._slack.update(message_id, message)
        except SendError as error:
            if error.failure is not FailureClass.PERMANENT:
                return False  # Slack's trouble or our token's: next round
            log.info("a Slack message could not be rewritten", error=error.message)
        return True
