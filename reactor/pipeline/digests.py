"""Digests: the rows a claim took, gathered per channel and recipient into messages.

A claim-time decision (gather_digests.sql), made in the database so that replicas
agree: a recipient's first message opens a window of DIGEST_WINDOW_SECONDS; rows
ready together go as one message (each invoice keeps its own row), and rows that
come due while the window is open wait for its end, then go together. A single
invoice for a recipient with nothing recent is an ordinary message, sent at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from reactor.db.store import Store
from reactor.domain.deliveries import Delivery
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

    async def gather(self, claimed: Sequence[Delivery]) -> tuple[list[Delivery], bool]:
        """The messages to send for these claimed rows, and whether some were held.

        Rows held for a window (back to PENDING until it ends) are left out.
        """
        if not self.enabled or not claimed:
            return list(claimed), False
        rows = await self.store.gather_digests(
            ids=[d.id for d in claimed],
            tokens=[d.claim_token for d in claimed],
            window_seconds=self.settings.digest_window_seconds,
            lease_seconds=self.settings.lease_seconds,
            max_attempts=self.settings.max_attempts,
        )
        by_id = {d.id: d for d in claimed}
        groups: dict[tuple[str, str], list[Delivery]] = {}
        for row in rows:
            member = by_id[row["id"]] if row["claimed"] else Delivery.from_row(row)
            groups.setdefault((member.channel.value, member.recipient), []).append(member)
        kept = sum(row["claimed"] for row in rows)
        return [message(members) for members in groups.values()], kept < len(claimed)


def message(members: Sequence[Delivery]) -> Delivery:
    """One message for a recipient's rows: the row itself, or a digest led by the oldest."""
    ordered = sorted(members, key=lambda d: d.id)
    if len(ordered) == 1:
        return ordered[0]
    return replace(ordered[0], digest=tuple(ordered))
