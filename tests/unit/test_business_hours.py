"""Business hours on the recipient's clock: working time only, weekends, daylight saving."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from reactor.policy.business_hours import (
    BusinessHours,
    WorkingHours,
    fits,
    parse_business_hours,
    working_moment,
)

OFFICE = parse_business_hours("Mon-Fri 09:00-17:00")
EVERY_NIGHT = parse_business_hours("Mon-Sun 00:00-06:00")
NEW_YORK, BERLIN = "America/New_York", "Europe/Berlin"


def _at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, zone: str = "UTC"
) -> datetime:
    """A local wall-clock time, as the UTC instant it is."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _hours(n: float) -> timedelta:
    return timedelta(hours=n)


# -- parsing -----------------------------------------------------------------


def test_a_range_of_days_and_the_hours() -> None:
    expected = BusinessHours(frozenset(range(5)), time(9), time(17), "Mon-Fri 09:00-17:00")
    assert parse_business_hours("Mon-Fri 09:00-17:00") == expected


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Mon,Wed,Fri 09:00-17:00", {0, 2, 4}),
        ("sat-SUN 10:00-14:00", {5, 6}),
        ("Sun-Thu 08:00-16:00", {6, 0, 1, 2, 3}),  # a range wraps past Sunday
        ("Mon-Wed,Fri 08:00-12:00", {0, 1, 2, 4}),
        ("Tue 08:00-12:00", {1}),
    ],
)
def test_lists_ranges_and_wrapping(text: str, days: set[int]) -> None:
    assert parse_business_hours(text).days == frozenset(days)


def test_seconds_and_the_end_of_the_day() -> None:
    hours = parse_business_hours("  Mon-Fri   08:30:15-24:00 ")
    assert (hours.start, hours.end, hours.text) == (time(8, 30, 15), None, "Mon-Fri 08:30:15-24:00")
    assert hours.weekly() == 5 * (timedelta(hours=24) - timedelta(hours=8, minutes=30, seconds=15))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mon-Fri", "is not DAYS HH:MM-HH:MM"),
        ("09:00-17:00", "is not DAYS HH:MM-HH:MM"),
        ("Mon - Fri 09:00-17:00", "is not DAYS HH:MM-HH:MM"),
        (42, "is not DAYS HH:MM-HH:MM"),
        ("Mon-Fry 09:00-17:00", "'Fry' is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"),
        ("Monday 09:00-17:00", "'Monday' is not a day"),
        ("Mon-Wed-Fri 09:00-17:00", "'Mon-Wed-Fri' is not a day or a range of days"),
        ("Mon,,Fri 09:00-17:00", "'' is not a day or a range of days"),
        ("Mon-Fri 9-17", "'9-17' is not HH:MM-HH:MM"),
        ("Mon-Fri 09:00", "'09:00' is not HH:MM-HH:MM"),
        ("Mon-Fri 09:00-25:00", "'09:00-25:00' is not HH:MM-HH:MM"),
        ("Mon-Fri 17:00-09:00", "must start before they end (they cannot cross midnight)"),
        ("Mon-Fri 09:00-09:00", "must start before they end"),
    ],
)
def test_mistakes_are_named(text: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(repr(text)) + ".*" + re.escape(message)):
        parse_business_hours(text)


# -- working time ------------------------------------------------------------


def test_friday_afternoon_escalates_on_monday_noon() -> None:
    friday = _at(2026, 6, 5, 16, 0, zone=NEW_YORK)
    monday_noon = _at(2026, 6, 8, 12, 0, zone=NEW_YORK)
    assert working_moment(friday, _hours(4), OFFICE, NEW_YORK) == monday_noon


def test_mid_window_the_delay_is_plain_time() -> None:
    tuesday = _at(2026, 6, 2, 10, 15, zone=BERLIN)
    assert working_moment(tuesday, _hours(4), OFFICE, BERLIN) == _at(
        2026, 6, 2, 14, 15, zone=BERLIN
    )


def test_ending_exactly_at_closing_time_fires_then() -> None:
    tuesday = _at(2026, 6, 2, 13, 0)
    assert working_moment(tuesday, _hours(4), OFFICE, "UTC") == _at(2026, 6, 2, 17, 0)
    # a minute more carries over to the next morning
    assert working_moment(tuesday, _hours(4) + timedelta(minutes=1), OFFICE, "UTC") == _at(
        2026, 6, 3, 9, 1
    )


def test_before_opening_counts_from_opening() -> None:
    early = _at(2026, 6, 2, 6, 30)
    assert working_moment(early, _hours(2), OFFICE, "UTC") == _at(2026, 6, 2, 11, 0)
    exactly = _at(2026, 6, 2, 9, 0)
    assert working_moment(exactly, _hours(2), OFFICE, "UTC") == _at(2026, 6, 2, 11, 0)


def test_after_closing_and_at_closing_count_from_the_next_working_day() -> None:
    assert working_moment(_at(2026, 6, 2, 20, 0), _hours(1), OFFICE, "UTC") == _at(2026, 6, 3, 10)
    assert working_moment(_at(2026, 6, 2, 17, 0), _hours(1), OFFICE, "UTC") == _at(2026, 6, 3, 10)


def test_the_weekend_does_not_count() -> None:
    saturday = _at(2026, 6, 6, 11, 0)
    assert working_moment(saturday, _hours(1), OFFICE, "UTC") == _at(2026, 6, 8, 10, 0)
    weekend_only = parse_business_hours("Sat-Sun 10:00-14:00")
    wednesday = _at(2026, 6, 3, 12, 0)
    assert working_moment(wednesday, _hours(6), weekend_only, "UTC") == _at(2026, 6, 7, 12, 0)


def test_several_days_of_working_time() -> None:
    monday = _at(2026, 6, 1, 9, 0)
    # 20 working hours: Mon 8, Tue 8, Wed 4
    assert working_moment(monday, _hours(20), OFFICE, "UTC") == _at(2026, 6, 3, 13, 0)
    # 2 days = 48 working hours: six working days, over a weekend
    assert working_moment(monday, timedelta(days=2), OFFICE, "UTC") == _at(2026, 6, 8, 17, 0)


def test_the_recipients_time_zone_decides() -> None:
    friday_utc = _at(2026, 6, 5, 19, 0)  # Friday 15:00 in New York, 21:00 in Berlin
    assert working_moment(friday_utc, _hours(1), OFFICE, NEW_YORK) == _at(
        2026, 6, 5, 16, 0, zone=NEW_YORK
    )
    assert working_moment(friday_utc, _hours(1), OFFICE, BERLIN) == _at(
        2026, 6, 8, 10, 0, zone=BERLIN
    )


def test_zero_work_is_the_start() -> None:
    sunday = _at(2026, 6, 7, 3, 0)
    assert working_moment(sunday, timedelta(0), OFFICE, "UTC") == sunday


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        working_moment(datetime(2026, 6, 1, 9), _hours(1), OFFICE, "UTC")


def test_working_time_that_never_ends_is_refused() -> None:
    minute_a_week = parse_business_hours("Mon 09:00-09:01")
    assert fits(_hours(4), OFFICE) and fits(timedelta(days=100), OFFICE)
    assert not fits(timedelta(days=9999), minute_a_week)
    with pytest.raises(ValueError, match="takes more than"):
        working_moment(_at(2026, 6, 1), timedelta(days=1), minute_a_week, "UTC")


# -- daylight saving -----------------------------------------------------------


def test_over_the_weekend_new_york_springs_forward() -> None:
    # Sunday 8 March 2026: EST (-5) becomes EDT (-4); Monday noon is an hour earlier in UTC.
    friday = _at(2026, 3, 6, 16, 0, zone=NEW_YORK)
    assert friday == datetime(2026, 3, 6, 21, 0, tzinfo=UTC)
    assert working_moment(friday, _hours(4), OFFICE, NEW_YORK) == datetime(
        2026, 3, 9, 16, 0, tzinfo=UTC
    )


def test_over_the_weekend_new_york_falls_back() -> None:
    # Sunday 1 November 2026: EDT (-4) becomes EST (-5).
    friday = _at(2026, 10, 30, 16, 0, zone=NEW_YORK)
    assert working_moment(friday, _hours(4), OFFICE, NEW_YORK) == datetime(
        2026, 11, 2, 17, 0, tzinfo=UTC
    )


def test_over_the_weekend_berlin_changes_its_clocks() -> None:
    # Sunday 29 March 2026: CET (+1) becomes CEST (+2); Sunday 25 October back again.
    spring = _at(2026, 3, 27, 16, 0, zone=BERLIN)
    assert working_moment(spring, _hours(4), OFFICE, BERLIN) == datetime(
        2026, 3, 30, 10, 0, tzinfo=UTC
    )
    autumn = _at(2026, 10, 23, 16, 0, zone=BERLIN)
    assert working_moment(autumn, _hours(4), OFFICE, BERLIN) == datetime(
        2026, 10, 26, 11, 0, tzinfo=UTC
    )


def test_hours_the_clocks_skip_do_not_count() -> None:
    # 00:00-06:00 on 8 March 2026 in New York is five real hours (02:00-03:00 never is).
    night = _at(2026, 3, 8, 0, 0, zone=NEW_YORK)
    assert working_moment(night, _hours(5), EVERY_NIGHT, NEW_YORK) == _at(
        2026, 3, 8, 6, 0, zone=NEW_YORK
    )
    assert working_moment(night, _hours(5.5), EVERY_NIGHT, NEW_YORK) == _at(
        2026, 3, 9, 0, 30, zone=NEW_YORK
    )
    # Berlin, 29 March 2026
    night = _at(2026, 3, 29, 0, 0, zone=BERLIN)
    assert working_moment(night, _hours(5), EVERY_NIGHT, BERLIN) == datetime(
        2026, 3, 29, 4, 0, tzinfo=UTC
    )


def test_the_hour_the_clocks_repeat_counts_twice() -> None:
    # 00:00-06:00 on 1 November 2026 in New York is seven real hours (01:00-02:00 twice).
    night = _at(2026, 11, 1, 0, 0, zone=NEW_YORK)
    assert night == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert working_moment(night, _hours(7), EVERY_NIGHT, NEW_YORK) == datetime(
        2026,
        11,
        1,
        11,
        0,
        tzinfo=UTC,  # 06:00 EST
    )
    # Berlin, 25 October 2026: 00:00 CEST is 22:00 UTC; 06:00 CET is 05:00 UTC.
    night = _at(2026, 10, 25, 0, 0, zone=BERLIN)
    assert working_moment(night, _hours(7), EVERY_NIGHT, BERLIN) == datetime(
        2026, 10, 25, 5, 0, tzinfo=UTC
    )


def test_a_day_that_opens_inside_the_skipped_hour() -> None:
    # 02:30 does not exist on 8 March 2026 in New York: read with the offset before the
    # change, it is 03:30 EDT (as datetime reads it).
    small_hours = parse_business_hours("Sun 02:30-05:00")
    saturday = _at(2026, 3, 7, 12, 0, zone=NEW_YORK)
    assert working_moment(saturday, _hours(1), small_hours, NEW_YORK) == _at(
        2026, 3, 8, 4, 30, zone=NEW_YORK
    )


# -- per rule and recipient ------------------------------------------------------


def test_only_business_hours_rules_wait_in_each_recipients_zone() -> None:
    hours = WorkingHours(
        {"escalate": (_hours(4), OFFICE)}, {"+14155550123": NEW_YORK}, default_timezone=BERLIN
    )
    friday = _at(2026, 6, 5, 20, 0)  # 16:00 in New York, 22:00 in Berlin
    saturday = _at(2026, 6, 6, 12, 0)
    assert hours.rule_names == ["escalate"]
    assert hours.held_until("escalate", "+14155550123", friday, saturday) == _at(
        2026, 6, 8, 12, 0, zone=NEW_YORK
    )
    assert hours.held_until("escalate", "lead@acme.example", friday, saturday) == _at(
        2026, 6, 8, 13, 0, zone=BERLIN
    )
    assert hours.held_until("remind", "+14155550123", friday, saturday) is None
    assert hours.held_until(None, "+14155550123", friday, saturday) is None
    assert hours.held_until("escalate", "+14155550123", None, saturday) is None
    after = _at(2026, 6, 8, 12, 0, zone=NEW_YORK)
    assert hours.held_until("escalate", "+14155550123", friday, after) is None
