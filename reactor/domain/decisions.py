"""Pure decisions: how a provider's answer is classified and what it does to a row and a channel.

No database, no thread, no clock but the one passed in: these are the rules the
next features extend (digest windows, quiet hours), so each is a plain function.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from reactor.domain.enums import Disposition, Status

AUTH_PAUSE_SECONDS = 60.0

# Twilio error codes that mean "this recipient cannot be texted": never retried.
TWILIO_PERMANENT_CODES = frozenset({21211, 21214, 21408, 21610, 21612, 21614})
TWILIO_AUTH_CODE = 20003
# "Attempt to send to unsubscribed recipient": the phone said STOP to our number.
TWILIO_UNSUBSCRIBED_CODE = 21610
# Slack answers most errors with HTTP 200 and `ok: false`; these refuse our token.
SLACK_AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
# Slack's own trouble, or too many calls: worth another attempt.
SLACK_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class FailureClass(StrEnum):
    """Why a send failed, which decides what happens to the row."""

    TRANSIENT = "transient"  # 429, 5xx, timeouts, connection errors: retry later
    PERMANENT = "permanent"  # the provider refused this recipient or message: FAILED now
    AUTH = "auth"  # our credentials were refused: pause the channel, keep rows pending


class SendError(Exception):
    """A send that did not reach the provider's acceptance."""

    def __init__(
        self,
        failure: FailureClass,
        message: str,
        retry_after: float | None = None,
        provider_code: int | None = None,
    ):
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.retry_after = retry_after
        self.provider_code = provider_code  # the provider's own error code, if it gave one


def classify_status(status: int) -> FailureClass:
    """The failure class of an HTTP error status (SendGrid's whole rule)."""
    if status == 401:
        return FailureClass.AUTH
    if status == 429 or status >= 500 or status == 408:
        return FailureClass.TRANSIENT
    return FailureClass.PERMANENT


def classify_twilio(status: int, code: int | None) -> FailureClass:
    """Twilio's: its error code first (bad number, unsubscribed, auth), then the status."""
    if code in TWILIO_PERMANENT_CODES:
        return FailureClass.PERMANENT
    if code == TWILIO_AUTH_CODE:
        return FailureClass.AUTH
    return classify_status(status)


def classify_slack(status: int, error: str | None) -> FailureClass:
    """Slack's: the HTTP status for 429 and 5xx, else its `error` string. Everything else
    (`channel_not_found`, `not_in_channel`, `is_archived`, `msg_too_long`, ...) is
    permanent for that row."""
    if status == 429 or status >= 500 or error in SLACK_TRANSIENT_ERRORS:
        return FailureClass.TRANSIENT
    if status == 401 or error in SLACK_AUTH_ERRORS:
        return FailureClass.AUTH
    return FailureClass.PERMANENT


def retry_after_seconds(
    headers: Mapping[str, str] | None, now: float | None = None
) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or X-RateLimit-Reset (epoch)."""
    if not headers:
        return None
    now = time.time() if now is None else now
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return max(0.0, parsed.timestamp() - now)
    reset = headers.get("X-RateLimit-Reset") or headers.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - now)
    return None


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter for the retry after `attempts` attempts."""
    return random.uniform(0, min(cap, base * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a delivery is retried."""

    max_attempts: int
    base_seconds: float
    cap_seconds: float


@dataclass(frozen=True)
class Decision:
    """What a failed (or held back) attempt does: the row's next status, and the channel's."""

    status: str  # PENDING (retry) or FAILED
    retry_in: float = 0.0  # seconds until the row is due again (PENDING)
    refund: int = 0  # 1 when the attempt never counted (channel paused, rate limited)
    pause_seconds: float = 0.0  # how long the channel pauses in this process; 0: not at all


def decide_failure(error: SendError, attempts: int, policy: RetryPolicy) -> Decision:
    """The fate of a row whose send failed after `attempts` attempts."""
    if error.failure is FailureClass.AUTH:
        # Due at once for a process with working credentials; this one skips the
        # channel until its pause ends, so no attempt is burnt.
        return Decision(Status.PENDING, refund=1, pause_seconds=AUTH_PAUSE_SECONDS)
    if error.failure is FailureClass.TRANSIENT and error.retry_after is not None:
        return Decision(
            Status.PENDING, retry_in=error.retry_after, refund=1, pause_seconds=error.retry_after
        )
    if error.failure is FailureClass.PERMANENT or attempts >= policy.max_attempts:
        return Decision(Status.FAILED)
    retry_in = backoff_seconds(attempts, policy.base_seconds, policy.cap_seconds)
    return Decision(Status.PENDING, retry_in=retry_in)


def held_while_paused(failure_class: str | None, pause_left: float) -> Decision:
    """A row that waited while its channel paused goes back untouched.

    After a rate limit it is due when the pause ends; after refused credentials it
    is due at once, for a process whose credentials work (this one skips the channel).
    """
    refused = failure_class == FailureClass.AUTH.value
    return Decision(Status.PENDING, retry_in=0.0 if refused else pause_left, refund=1)


def claimed_disposition(status: str) -> Disposition:
    """What to do with a row a claim returned: `send` it, or count it as skipped or failed.

    A claim re-checks the invoice: a row whose invoice left review is SKIPPED, one
    whose lease expired on its last attempt is FAILED; only SENDING rows are sent.
    """
    return _DISPOSITIONS.get(status, Disposition.IGNORE)


_DISPOSITIONS: dict[str, Disposition] = {
    Status.SENDING: Disposition.SEND,
    Status.SKIPPED: Disposition.SKIPPED,
    Status.FAILED: Disposition.FAILED,
}


# Requests to one provider kept in flight: the limit grows while answers come back
# nearly as fast as the quickest lately seen (the provider is slow, not us: more
# connections carry more), and shrinks once they take much longer (our event loop or
# the provider is saturated: more connections would only cost TLS handshakes).
GROW_WHILE_RTT_BELOW = 1.5  # times the quickest round trip lately seen
SHRINK_WHEN_RTT_ABOVE = 2.5


def next_in_flight_limit(
    limit: int, rtt: float, min_rtt: float, *, floor: int, ceiling: int
) -> int:
    """A provider's in-flight limit after one answer that took `rtt` seconds.

    Round trips that stay close to the quickest (`min_rtt`) mean requests are not
    queueing anywhere: one more may go. Round trips well above it mean they queue:
    one fewer. In between the limit holds, so it settles instead of oscillating.
    """
    if rtt <= min_rtt * GROW_WHILE_RTT_BELOW:
        limit += 1
    elif rtt > min_rtt * SHRINK_WHEN_RTT_ABOVE:
        limit -= 1
    return max(floor, min(ceiling, limit))


def fails_over(attempt: int, after: int) -> bool:
    """Whether attempt number `attempt` of an email goes through the SMTP failover.

    The first `after` attempts are SendGrid's; an attempt only counts when it reached
    a provider and failed transiently (a permanent refusal ends the row, a paused
    channel gives the attempt back), so the failover follows SendGrid's outages.
    """
    return attempt > after


# After a stream of invoices, a dispatcher polls this many empty passes before it asks
# writers for NOTIFYs again (pipeline/doorbell.py). Asking makes every writer that
# commits while the wake-up lock is being taken send one, and notifying commits queue
# behind each other's WAL flush: asking after every short lull in a stream would turn
# the upstream's group commits into single file.
EMPTY_PASSES_BEFORE_ASKING = 5


def asks_for_notify(busy_passes: int, empty_passes: int) -> bool:
    """Whether an idle dispatcher takes the wake-up lock now.

    `busy_passes`: passes in a row that found outbox rows before the current lull;
    `empty_passes`: passes that found none since. After a lone invoice (one busy pass)
    it asks at once, so that the next lone one wakes it; after a stream, only once the
    outbox stayed empty for EMPTY_PASSES_BEFORE_ASKING polls.
    """
    return busy_passes <= 1 or empty_passes >= EMPTY_PASSES_BEFORE_ASKING
