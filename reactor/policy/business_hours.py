"""Business hours: an escalation's delay counted in working time, on its recipient's clock.

`business_hours = "Mon-Fri 09:00-17:00"` on an `escalate_after` (or `after`) rule: the
delay runs only while the recipient's local clock is inside the hours, so an invoice
that entered review on Friday at 16:00 with `escalate_after = "4h"` escalates on Monday
at 12:00. A pure decision (zoneinfo, daylight-saving changes included): working time
is real time elapsed inside the hours, so the day the clocks change inside them is an
hour shorter or longer. A boundary the clocks skip (02:30 on the night they go forward)
is read with the offset before the change, as `datetime` does (an hour later).
The sender applies it as a hold, the way quiet hours hold an SMS (attempts.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EXAMPLE = "e.g. Mon-Fri 09:00-17:00"
MAX_DAYS = 3660  # about ten years: how far working_moment looks ahead


@dataclass(frozen=True)
class BusinessHours:
    """The working days (0 is Monday) and the local hours of each, start before end."""

    days: frozenset[int]
    start: time
    end: time | None  # None: 24:00, the end of the day
    text: str  # as the rules file wrote it

    def weekly(self) -> timedelta:
        """Working time in a week without a clock change."""
        closes = timedelta(days=1) if self.end is None else _since_midnight(self.end)
        return len(self.days) * (closes - _since_midnight(self.start))


def _since_midnight(clock: time) -> timedelta:
    return timedelta(
        hours=clock.hour, minutes=clock.minute, seconds=clock.second, microseconds=clock.microsecond
    )


def parse_business_hours(text: object) -> BusinessHours:
    """ "Mon-Fri 09:00-17:00" -> BusinessHours; ValueError saying what is wrong.

    Days: three-letter names, ranges and lists ("Mon-Fri", "Mon,Wed,Fri", "Sun-Thu",
    "Mon-Wed,Fri"; a range may wrap past Sunday). Hours: HH:MM-HH:MM (or HH:MM:SS),
    local time, start before end (they do not cross midnight; 24:00 ends the day).
    """
    parts = text.split() if isinstance(text, str) else []
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not DAYS HH:MM-HH:MM ({EXAMPLE})")
    days = frozenset(day for item in parts[0].split(",") for day in _days(item, text))
    start, end = _hours(parts[1], text)
    return BusinessHours(days, start, end, " ".join(parts))


def _days(item: str, text: object) -> list[int]:
    names = item.split("-")
    if len(names) > 2 or not all(names):
        raise ValueError(f"{text!r}: {item!r} is not a day or a range of days ({EXAMPLE})")
    numbers = []
    for name in names:
        if name.lower() not in DAYS:
            known = ", ".join(d.title() for d in DAYS)
            raise ValueError(f"{text!r}: {name!r} is not a day ({known})")
        numbers.append(DAYS.index(name.lower()))
    first, last = numbers[0], numbers[-1]
    return [(first + step) % 7 for step in range((last - first) % 7 + 1)]


def _hours(span: str, text: object) -> tuple[time, time | None]:
    clocks = span.split("-")
    if len(clocks) != 2:
        raise ValueError(f"{text!r}: {span!r} is not HH:MM-HH:MM ({EXAMPLE})")
    try:
        start = time.fromisoformat(clocks[0])
        end = None if clocks[1] in ("24:00", "24:00:00") else time.fromisoformat(clocks[1])
    except ValueError:
        raise ValueError(f"{text!r}: {span!r} is not HH:MM-HH:MM ({EXAMPLE})") from None
    if end is not None and start >= end:
        raise ValueError(
            f"{text!r}: the hours must start before they end (they cannot cross midnight)"
        )
    return start, end


def _instant(day: date, clock: time | None, zone: ZoneInfo) -> datetime:
    """A local day's clock time (None: 24:00) as a UTC instant."""
    if clock is None:
        return _instant(day + timedelta(days=1), time(), zone)
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def working_moment(
    start: datetime, work: timedelta, hours: BusinessHours, timezone: str
) -> datetime:
    """When `work` of working time after `start` has passed (UTC), in `timezone`'s hours.

    Time before the next opening does not count; work that ends exactly at closing
    time ends then. ValueError when it would take more than MAX_DAYS days.
    """
    if start.tzinfo is None:
        raise ValueError("start must carry its time zone")
    zone = ZoneInfo(timezone)
    left = max(work, timedelta(0))
    if not left:
        return start.astimezone(UTC)
    day = start.astimezone(zone).date()
    for _ in range(MAX_DAYS):
        if day.weekday() in hours.days:
            opens = max(start, _instant(day, hours.start, zone))
            closes = _instant(day, hours.end, zone)
            if closes > opens:
                if left <= closes - opens:
                    return (opens + left).astimezone(UTC)
                left -= closes - opens
        day += timedelta(days=1)
    raise ValueError(f"{work} of working time in {hours.text} takes more than {MAX_DAYS} days")


def fits(work: timedelta, hours: BusinessHours) -> bool:
    """Whether `work` of working time in these hours ends within MAX_DAYS (with a margin)."""
    weeks = work / hours.weekly()
    return (weeks + 2) * 7 < MAX_DAYS


@dataclass(frozen=True)
class WorkingHours:
    """Each business-hours rule's delay and hours, and each recipient's time zone."""

    rules: Mapping[str, tuple[timedelta, BusinessHours]]  # rule name -> (delay, hours)
    timezones: Mapping[str, str] = field(default_factory=dict)  # recipient -> IANA name
    default_timezone: str = "UTC"

    @property
    def rule_names(self) -> list[str]:
        """The rules whose messages wait for business hours."""
        return sorted(self.rules)

    def moment(
        self, rule_name: str | None, recipient: str, entered_at: datetime
    ) -> datetime | None:
        """When a message of `rule_name` to `recipient` may go (None: the rule has no hours)."""
        found = self.rules.get(rule_name or "")
        if found is None:
            return None
        delay, hours = found
        zone = self.timezones.get(recipient, self.default_timezone)
        return working_moment(entered_at, delay, hours, zone)

    def held_until(
        self, rule_name: str | None, recipient: str, entered_at: datetime | None, now: datetime
    ) -> datetime | None:
        """Until when a message that falls due `now` waits for its working time, if it does."""
        if entered_at is None:
            return None
        moment = self.moment(rule_name, recipient, entered_at)
        return moment if moment is not None and moment > now else None
