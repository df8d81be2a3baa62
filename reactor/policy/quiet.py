"""Quiet hours: an SMS that falls due inside its recipient's quiet hours waits for their end.

A pure decision on the recipient's local clock (daylight-saving changes included,
through zoneinfo), applied by the sender just before an SMS would go out: the row
goes back to PENDING until the end, without using an attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def quiet_until(now: datetime, timezone: str, start: time, end: time) -> datetime | None:
    """When the quiet hours around `now` end (UTC), or None when `now` is outside them.

    `start`-`end` is local time in `timezone` and may cross midnight (21:00-07:00).
    """
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    clock, today = local.time().replace(tzinfo=None), local.date()
    if start < end:
        inside, end_day = start <= clock < end, today
    elif clock >= start:
        inside, end_day = True, today + timedelta(days=1)
    else:
        inside, end_day = clock < end, today
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class QuietHours:
    """Each recipient's quiet hours, as the rules file gives them: (time zone, start, end)."""

    spans: Mapping[str, tuple[str, time, time]]

    def held_until(self, recipient: str, now: datetime) -> datetime | None:
        """When an SMS to `recipient` may go, if not now."""
        span = self.spans.get(recipient)
        return quiet_until(now, *span) if span else None
