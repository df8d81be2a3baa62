"""The pure decisions: classification per provider, retry and backoff, pauses, claims."""

from __future__ import annotations

import email.utils
import random

import pytest

from reactor.domain.decisions import (
    AUTH_PAUSE_SECONDS,
    FailureClass,
    RetryPolicy,
    SendError,
    backoff_seconds,
    claimed_disposition,
    classify_status,
    classify_twilio,
    decide_failure,
    held_while_paused,
    retry_after_seconds,
)

POLICY = RetryPolicy(max_attempts=5, base_seconds=30.0, cap_seconds=3600.0)


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        (400, FailureClass.PERMANENT),
        (403, FailureClass.PERMANENT),
        (404, FailureClass.PERMANENT),
        (401, FailureClass.AUTH),
        (408, FailureClass.TRANSIENT),
        (429, FailureClass.TRANSIENT),
        (500, FailureClass.TRANSIENT),
        (503, FailureClass.TRANSIENT),
    ],
)
def test_sendgrid_classifies_by_status(status: int, failure: FailureClass) -> None:
    assert classify_status(status) is failure


@pytest.mark.parametrize(
    ("status", "code", "failure"),
    [
        (400, 21211, FailureClass.PERMANENT),  # invalid 'To' number
        (400, 21610, FailureClass.PERMANENT),  # unsubscribed
        (400, 21614, FailureClass.PERMANENT),  # not a mobile number
        (401, 20003, FailureClass.AUTH),
        (403, 20003, FailureClass.AUTH),  # the code wins over the status
        (429, 20429, FailureClass.TRANSIENT),
        (503, 20503, FailureClass.TRANSIENT),
        (500, 21211, FailureClass.PERMANENT),  # a bad number stays bad whatever the status
        (400, None, FailureClass.PERMANENT),
    ],
)
def test_twilio_classifies_by_code_then_status(
    status: int, code: int | None, failure: FailureClass
) -> None:
    assert classify_twilio(status, code) is failure


def test_retry_after_reads_seconds_dates_and_rate_limit_resets() -> None:
    now = 1_800_000_000.0
    assert retry_after_seconds({"Retry-After": "7"}, now) == 7.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now) == pytest.approx(30.0, abs=1.0)
    assert retry_after_seconds({"X-RateLimit-Reset": str(int(now) + 12)}, now) == 12.0
    assert retry_after_seconds({"X-RateLimit-Reset": str(int(now) - 5)}, now) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}, now) is None
    assert retry_after_seconds(None, now) is None


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    random.seed(7)
    for attempts, ceiling in [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]:
        samples = [backoff_seconds(attempts, 30.0, 3600.0) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # full jitter spreads up to the ceiling


def test_a_transient_failure_is_retried_until_the_last_attempt() -> None:
    error = SendError(FailureClass.TRANSIENT, "SendGrid 503")
    retry = decide_failure(error, attempts=2, policy=POLICY)
    assert retry.status == "PENDING" and 0 <= retry.retry_in <= 60
    assert (retry.refund, retry.pause_seconds) == (0, 0.0)
    assert decide_failure(error, attempts=5, policy=POLICY).status == "FAILED"


def test_a_permanent_failure_fails_at_once() -> None:
    error = SendError(FailureClass.PERMANENT, "Twilio 400 (code 21211)")
    assert decide_failure(error, attempts=1, policy=POLICY).status == "FAILED"


def test_a_429_pauses_the_channel_and_keeps_the_attempt() -> None:
    error = SendError(FailureClass.TRANSIENT, "429", retry_after=12.0)
    decision = decide_failure(error, attempts=5, policy=POLICY)  # even on the last attempt
    assert decision.status == "PENDING"
    assert (decision.retry_in, decision.refund, decision.pause_seconds) == (12.0, 1, 12.0)


def test_a_401_pauses_the_channel_and_leaves_the_row_due_for_others() -> None:
    decision = decide_failure(SendError(FailureClass.AUTH, "401"), attempts=3, policy=POLICY)
    assert decision.status == "PENDING"
    assert (decision.retry_in, decision.refund) == (0.0, 1)
    assert decision.pause_seconds == AUTH_PAUSE_SECONDS


def test_a_row_held_while_paused_goes_back_untouched() -> None:
    after_rate_limit = held_while_paused("transient", pause_left=8.5)
    assert (after_rate_limit.status, after_rate_limit.retry_in, after_rate_limit.refund) == (
        "PENDING",
        8.5,
        1,
    )
    after_refused_credentials = held_while_paused("auth", pause_left=50.0)
    assert after_refused_credentials.retry_in == 0.0  # another process may send it at once


@pytest.mark.parametrize(
    ("status", "disposition"),
    [("SENDING", "send"), ("SKIPPED", "skipped"), ("FAILED", "failed"), ("PENDING", "ignore")],
)
def test_what_a_claimed_row_becomes(status: str, disposition: str) -> None:
    assert claimed_disposition(status) == disposition
