"""Follow-ups: once somebody takes an invoice, the others who were told hear who has it.

Every few seconds the follow-up round takes the taken review episodes not yet followed
up (follow_ups.sql marks them as it takes them, so replicas share them) and sends each
other recipient who got an email, SMS or Teams message about the invoice one short
message: who took it. Slack's messages say so in place instead (the corrector). A rule
with `follow_up = false` turns them off for the recipients it named. A follow-up is a
courtesy: it is tried once; a failure is logged and not retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

from reactor.db.connections import DATABASE_ERRORS
from reactor.domain.decisions import SendError
from reactor.domain.enums import Channel
from reactor.domain.messages import InvoiceView, Message
from reactor.support import metrics
from reactor.support.masking import mask_recipient, mask_text

if TYPE_CHECKING:
    from reactor.db.store import Store
    from reactor.messages.renderer import MessageRenderer
    from reactor.policy.rules import Rules
    from reactor.transports import Transport

log = structlog.get_logger("reactor.followups")

FOLLOW_UP_SECONDS = 5.0
EPISODES_PER_ROUND = 20


def to_follow_up(rows: list[dict[str, Any]], silent_rules: set[str]) -> list[dict[str, Any]]:
    """One message per (episode, channel, recipient), unless every rule that named that
    recipient for the episode says `follow_up = false`."""
    chosen: dict[tuple[int, str, str], dict[str, Any]] = {}
    wanted: set[tuple[int, str, str]] = set()
    for row in rows:
        key = (row["episode_id"], row["method"], row["recipient"])
        chosen.setdefault(key, row)
        if row["rule_name"] not in silent_rules:
            wanted.add(key)
    return [row for key, row in chosen.items() if key in wanted]


class FollowUps:
    """Tells the others who took an invoice, by email, SMS and Teams."""

    def __init__(
        self,
        store: Store,
        transports: Mapping[Channel, Transport],
        renderer: MessageRenderer,
        rules: Rules,
        interval: float = FOLLOW_UP_SECONDS,
    ) -> None:
        self._store = store
        self._transports = transports
        self._renderer = renderer
        self._silent = {rule.name for rule in rules.rules if not rule.follow_up}
        self._locales = rules.locales()
        self._interval = interval
        self.sent = 0

    async def run(self) -> None:
        """Follow up every interval until cancelled."""
        while True:
            try:
                await self.follow_up_once()
            except DATABASE_ERRORS as error:
                log.debug("could not read the episodes to follow up", error=type(error).__name__)
            except Exception:  # a follow-up is never worth stopping the service for
                log.exception("a round of follow-ups failed")
            await asyncio.sleep(self._interval)

    async def follow_up_once(self) -> int:
        """One round: returns how many follow-ups were sent."""
        sent = 0
        rows = await self._store.follow_ups(EPISODES_PER_ROUND)
        for row in to_follow_up(rows, self._silent):
            channel = Channel(row["method"])
            transport = self._transports.get(channel)
            if transport is None:
                continue
            try:
                await transport.send(row["recipient"], self._message(channel, row), 0)
            except SendError as error:
                log.info(
                    "a follow-up could not be sent",
                    channel=channel.value,
                    recipient=mask_recipient(row["recipient"]),
                    error=mask_text(error.message),
                )
                continue
            metrics.FOLLOW_UPS.labels(channel.value).inc()
            sent += 1
        self.sent += sent
        return sent

    def _message(self, channel: Channel, row: dict[str, Any]) -> Message:
        invoice = InvoiceView.from_row(row)
        locale, taken_by = self._locales.get(row["recipient"]), row["taken_by"]
        if channel is Channel.EMAIL:
            return self._renderer.taken_email(invoice, taken_by, locale)
        if channel is Channel.SMS:
            return self._renderer.taken_sms(invoice, taken_by, locale)
        return self._renderer.taken_teams(invoice, taken_by, locale)
