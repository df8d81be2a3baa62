"""When a dispatcher asks writers for NOTIFYs: at once after a lone invoice, only after a
lull of a few polls after a stream (the wake-up lock's pure decision, and the Pacer
that keeps its counts)."""

from __future__ import annotations

import asyncio

from reactor.domain.decisions import EMPTY_PASSES_BEFORE_ASKING, asks_for_notify
from reactor.pipeline.doorbell import Arming, Pacer


def test_after_a_lone_invoice_it_asks_at_once() -> None:
    assert asks_for_notify(busy_passes=0, empty_passes=1)
    assert asks_for_notify(busy_passes=1, empty_passes=1)


def test_after_a_stream_it_polls_through_a_short_lull() -> None:
    for empty in range(1, EMPTY_PASSES_BEFORE_ASKING):
        assert not asks_for_notify(busy_passes=2, empty_passes=empty)
    assert asks_for_notify(busy_passes=50, empty_passes=EMPTY_PASSES_BEFORE_ASKING)


class CountingDoorbell:
    """Stands in for the wake-up lock's connection: counts what the Pacer asks of it."""

    def __init__(self) -> None:
        self.armed = False
        self.arms = 0

    async def arm(self) -> Arming:
        self.arms += 1
        self.armed = True
        return Arming.ARMED

    async def disarm(self) -> None:
        self.armed = False


def _passes(found: list[bool]) -> tuple[CountingDoorbell, list[float]]:
    """Run the Pacer through passes that found outbox rows (True) or not."""
    bell = CountingDoorbell()
    pacer = Pacer(bell, poll_seconds=0.01, check_seconds=1.0)  # type: ignore[arg-type]
    wake = asyncio.Event()

    async def run() -> list[float]:
        return [await pacer.after_pass(busy, 30.0, wake) for busy in found]

    return bell, asyncio.run(run())


def test_a_lone_invoice_then_quiet_arms_on_the_first_empty_pass() -> None:
    bell, sleeps = _passes([True, False])
    assert bell.arms == 1 and bell.armed
    assert sleeps == [0.01, 30.0]


def test_a_stream_with_short_lulls_never_arms() -> None:
    lull = [False] * (EMPTY_PASSES_BEFORE_ASKING - 1)
    bell, sleeps = _passes([True, True, *lull, True, True, *lull, True])
    assert bell.arms == 0
    assert set(sleeps) == {0.01}, "a busy reactor polls"


def test_a_stream_then_a_long_enough_lull_arms_once() -> None:
    quiet = [False] * (EMPTY_PASSES_BEFORE_ASKING + 3)
    bell, sleeps = _passes([True, True, True, *quiet])
    assert bell.arms == 1
    assert sleeps[-1] == 30.0, "armed, it sleeps until woken or due"


def test_work_found_mid_pass_gives_the_lock_back() -> None:
    bell = CountingDoorbell()
    pacer = Pacer(bell, poll_seconds=0.01, check_seconds=1.0)  # type: ignore[arg-type]

    async def run() -> None:
        await pacer.after_pass(False, 30.0, asyncio.Event())
        assert bell.armed
        await pacer.working()

    asyncio.run(run())
    assert not bell.armed
