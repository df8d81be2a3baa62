"""The adaptive in-flight limit per provider: the pure rule, and the slots that apply it."""

from __future__ import annotations

import asyncio

from reactor.domain.decisions import next_in_flight_limit
from reactor.transports.pool import InFlightLimit


def test_answers_as_fast_as_the_quickest_let_one_more_request_go() -> None:
    assert next_in_flight_limit(10, rtt=0.104, min_rtt=0.100, floor=8, ceiling=200) == 11


def test_answers_that_queue_take_one_request_away() -> None:
    assert next_in_flight_limit(10, rtt=0.030, min_rtt=0.001, floor=8, ceiling=200) == 9


def test_in_between_the_limit_holds() -> None:
    assert next_in_flight_limit(10, rtt=0.002, min_rtt=0.001, floor=8, ceiling=200) == 10


def test_the_limit_stays_within_its_floor_and_ceiling() -> None:
    assert next_in_flight_limit(8, rtt=1.0, min_rtt=0.001, floor=8, ceiling=200) == 8
    assert next_in_flight_limit(200, rtt=0.1, min_rtt=0.1, floor=8, ceiling=200) == 200


def _peak_in_flight(
    answer_seconds: float, senders: int, requests: int, saturated: bool = False
) -> tuple[int, int]:
    """Run `requests` fake requests from `senders` tasks; (peak in flight, final limit).

    A `saturated` provider serves one request at a time: each answer takes
    `answer_seconds` for every request in flight.
    """

    async def run() -> tuple[int, int]:
        limit = InFlightLimit(ceiling=senders)
        peak = 0
        pending = iter(range(requests))

        async def sender() -> None:
            nonlocal peak
            for _ in pending:
                async with limit.slot():
                    peak = max(peak, limit.in_flight)
                    queued = limit.in_flight if saturated else 1
                    await asyncio.sleep(answer_seconds * queued)

        await asyncio.gather(*(sender() for _ in range(senders)))
        return peak, limit.limit

    return asyncio.run(run())


def test_a_provider_with_a_steady_round_trip_gets_every_sender() -> None:
    peak, final = _peak_in_flight(0.02, senders=40, requests=800)
    assert peak == 40 and final == 40, (peak, final)


def test_a_saturated_provider_gets_few_requests_in_flight_not_every_sender() -> None:
    # 5 ms a request in flight, not 1: a stall of the machine at the start (a loaded CI
    # runner) slows the first answers, and the quickest round trip seen with them; at
    # 1 ms a 20 ms stall was enough to let the limit grow to 28 on the way.
    peak, final = _peak_in_flight(0.005, senders=40, requests=300, saturated=True)
    # The limit settles near its floor; on the way, a round trip slowed by the machine
    # (not by the provider) may let a few more go, but never half the senders.
    assert final <= 12 and peak < 20, (peak, final)


def test_fewer_senders_than_the_floor_are_all_in_flight_and_no_more() -> None:
    peak, final = _peak_in_flight(0.001, senders=3, requests=100)
    assert peak == 3 and final == 3, (peak, final)
