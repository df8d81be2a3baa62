"""Quiet hours on the recipient's clock: spans across midnight, and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, time

from reactor.policy.quiet import QuietHours, quiet_until

NIGHT = (time(21), time(7))


def test_outside_quiet_hours_nothing_waits() -> None:
    noon_in_new_york = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
    assert quiet_until(noon_in_new_york, "America/New_York", *NIGHT) is None


def test_late_evening_waits_until_the_next_morning_local_time() -> None:
    late = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)  # 23:00 on 1 June in New York (EDT)
    assert quiet_until(late, "America/New_York", *NIGHT) == datetime(2026, 6, 2, 11, 0, tzinfo=UTC)


def test_early_morning_waits_until_seven_the_same_day() -> None:
    early = datetime(2026, 6, 2, 8, 30, tzinfo=UTC)  # 04:30 in New York
    assert quiet_until(early, "America/New_York", *NIGHT) == datetime(2026, 6, 2, 11, 0, tzinfo=UTC)


def test_a_daytime_span_that_does_not_cross_midnight() -> None:
    lunch = (time(12), time(13, 30))
    inside = datetime(2026, 6, 2, 12, 15, tzinfo=UTC)
    assert quiet_until(inside, "UTC", *lunch) == datetime(2026, 6, 2, 13, 30, tzinfo=UTC)
    assert quiet_until(datetime(2026, 6, 2, 13, 30, tzinfo=UTC), "UTC", *lunch) is None


def test_the_night_clocks_go_forward_ends_at_seven_summer_time() -> None:
    # 8 March 2026: New York springs forward at 02:00; the night is an hour shorter.
    night = datetime(2026, 3, 8, 4, 0, tzinfo=UTC)  # 23:00 EST on 7 March
    assert quiet_until(night, "America/New_York", *NIGHT) == datetime(
        2026,
        3,
        8,
        11,
        0,
        tzinfo=UTC,  # 07:00 EDT
    )


def test_the_night_clocks_go_back_ends_at_seven_winter_time() -> None:
    # 1 November 2026: New York falls back at 02:00; the night is an hour longer.
    night = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # 23:00 EDT on 31 October
    assert quiet_until(night, "America/New_York", *NIGHT) == datetime(
        2026,
        11,
        1,
        12,
        0,
        tzinfo=UTC,  # 07:00 EST
    )


def test_only_recipients_with_quiet_hours_wait() -> None:
    quiet = QuietHours({"+14155550123": ("Europe/Paris", *NIGHT)})
    at_midnight_in_paris = datetime(2026, 1, 15, 23, 0, tzinfo=UTC)
    assert quiet.held_until("+14155550123", at_midnight_in_paris) == datetime(
        2026, 1, 16, 6, 0, tzinfo=UTC
    )
    assert quiet.held_until("+14155550999", at_midnight_in_paris) is None
