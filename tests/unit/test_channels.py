"""A channel's live state: pauses that only grow, failures the probes can show."""

from __future__ import annotations

import threading

from reactor.pipeline.channels import ChannelState


def test_a_pause_counts_down_and_a_shorter_one_does_not_cut_it() -> None:
    state = ChannelState("twilio")
    assert state.paused_for() == 0.0
    state.pause(60)
    state.pause(5)
    assert 59 < state.paused_for() <= 60


def test_the_snapshot_shows_the_last_failure_masked_as_given() -> None:
    state = ChannelState("sendgrid")
    state.succeeded()
    state.failed("permanent", "SendGrid 400: bad address a***@example.com")
    snapshot = state.snapshot()
    assert snapshot["transport"] == "sendgrid"
    assert snapshot["last_failure_class"] == "permanent"
    assert snapshot["last_error"] == "SendGrid 400: bad address a***@example.com"
    assert snapshot["last_success_at"] and snapshot["last_failure_at"]
    assert snapshot["paused_for_seconds"] == 0.0
    assert state.last_failure() == ("permanent", "SendGrid 400: bad address a***@example.com")


def test_many_threads_may_record_at_once() -> None:
    state = ChannelState("twilio")

    def hammer() -> None:
        for number in range(500):
            state.failed("transient", f"error {number}")
            state.pause(1)
            state.snapshot()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state.last_failure()[1] == "error 499"
