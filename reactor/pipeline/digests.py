"""Digests: the rows a claim took, gathered per channel and recipient into messages.

A claim-time decision (gather_digests.sql), made in the database so that replicas
agree: a recipient's first message opens a window of DIGEST_WINDOW_SECONDS; rows
ready together go as one message (each invoice keeps its own row), and rows that
come due while the window is open wait for its end, then go together. A single
invoice for a recipient with nothing recent is an ordinary message, sent at once.
An escalation claimed before its business hours let it go is never gathered: it goes
alone to the senders, which hold it until then (attempts.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property

from reactor.db.store import Store
from reactor.domain.deliveries import Delivery
from reactor.pipeline.attempts import early_until
from reactor.policy.business_hours import WorkingHours
from reactor.settings.service import Settings


@dataclass(frozen=True)
class Digests:
    """Turns claimed deliveries into messages: single ones, and digests."""

    store: Store
    settings: Settings

    @property
    def enabled(self) -> bool:
        """Whether digests are on (DIGEST_WINDOW_SECONDS > 0)."""
        return self.settings.digest_window_seconds > 0

    @cached_property
    def working_hours(self) -> WorkingHours:
        """The business-hours rules, whose early reminders are never gathered."""
        return self.settings.rules.working_hours(self.settings.default_timezone)

    async def gather(self, claimed: Sequence[Delivery]) -> tuple[list[Delivery], bool]:
        """The messages to send for these claimed rows, and whether some were held.

        Rows held for a window (back to PENDING until it ends) are left out. Reminders
        claimed before their working time has passed go alone (to be held), before any
        window is opened for them.
        """
        if not self.enabled or not claimed:
            return list(claimed), False
        now = datetime.now(UTC)
        early = [d for d in claimed if early_until(self.working_hours, d, now) is not None]
        held_back = {d.id for d in early}
        claimed = [d for d in claimed if d.id not in held_back]
        if not claimed:
            return early, False
        rows = await self.store.gather_digests(
            ids=[d.id for d in claimed],
            tokens=[d.claim_token for d in claimed],
            window_seconds=self.settings.digest_window_seconds,
            lease_seconds=self.settings.lease_seconds,
            max_attempts=self.settings.max_attempts,
            working_rules=self.working_hours.rule_names,
        )
        by_id = {d.id: d for d in claimed}
        groups: dict[tuple[str, str], list[Delivery]] = {}
        for row in rows:
            member = by_id[row["id"]] if row["claimed"] else Delivery.from_row(row)
            groups.setdefault((member.channel.value, member.recipient), []).append(member)
        kept = sum(row["claimed"] for row in rows)
        messages = [message(members) for members in groups.values()]
        return early + messages, kept < len(claimed)


def message(members: Sequence[Delivery]) -> Delivery:
    """One message for a recipient's rows: the row itself, or a digest led by the oldest."""
    ordered = sorted(members, key=lambda d: d.id)
    if len(ordered) == 1:
        return ordered[0]
    return replace(ordered[0], digest=tuple(ordered))
