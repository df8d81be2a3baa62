"""One delivery attempt, in a sender task: render, send, and decide from the answer."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from reactor import metrics
from reactor.channels import ChannelState
from reactor.decisions import (
    Decision,
    FailureClass,
    RetryPolicy,
    SendError,
    decide_failure,
    held_while_paused,
)
from reactor.deliveries import Delivery, Outcome
from reactor.masking import mask_text
from reactor.messages.renderer import MessageRenderer
from reactor.recipients import Channel
from reactor.transports import Transport

log = structlog.get_logger("reactor.attempts")


class Attempts:
    """Makes one attempt at a delivery and says what its outcome is; never raises."""

    def __init__(
        self,
        transports: Mapping[Channel, Transport],
        renderer: MessageRenderer,
        channels: Mapping[Channel, ChannelState],
        policy: RetryPolicy,
    ) -> None:
        self._transports = transports
        self._renderer = renderer
        self._channels = channels
        self._policy = policy

    async def close(self) -> None:
        """Close every transport's kept-alive connections."""
        for transport in self._transports.values():
            await transport.close()

    async def make(self, delivery: Delivery) -> Outcome:
        """Send one delivery, unless its channel was paused while it waited."""
        try:
            state = self._channels[delivery.channel]
            pause_left = state.paused_for()
            if pause_left > 0:
                failure_class, error = state.last_failure()
                return _outcome(delivery, held_while_paused(failure_class, pause_left), error)
            return await self._send(delivery)
        except Exception as error:  # never let a bug kill the task and leak its slot
            log.exception("unexpected error in a sender", delivery_id=delivery.id)
            return self._failed(delivery, SendError(FailureClass.TRANSIENT, repr(error)))

    async def _send(self, delivery: Delivery) -> Outcome:
        transport = self._transports[delivery.channel]
        channel = delivery.channel.value
        started = time.perf_counter()
        try:
            if delivery.channel is Channel.EMAIL:
                message: Any = self._renderer.email(delivery.invoice)
            else:
                message = self._renderer.sms(delivery.invoice)
            with structlog.contextvars.bound_contextvars(
                invoice_id=delivery.invoice.invoice_id, channel=channel, delivery_id=delivery.id
            ):
                message_id = await transport.send(delivery.recipient, message)
        except SendError as error:
            metrics.SEND_ATTEMPTS.labels(channel, error.failure.value).inc()
            return self._failed(delivery, error)
        except Exception as error:  # a bug (rendering, a transport) must not lose the row
            log.exception("unexpected error while rendering or sending", delivery_id=delivery.id)
            metrics.SEND_ATTEMPTS.labels(channel, FailureClass.TRANSIENT.value).inc()
            return self._failed(delivery, SendError(FailureClass.TRANSIENT, repr(error)))
        finally:
            metrics.PROVIDER_CALL.labels(channel, transport.name).observe(
                time.perf_counter() - started
            )
        now = datetime.now(UTC)
        metrics.SEND_ATTEMPTS.labels(channel, "ok").inc()
        metrics.DELIVERIES.labels(channel, "sent").inc()
        if delivery.event_created_at is not None:
            latency = (now - delivery.event_created_at).total_seconds()
            metrics.EVENT_TO_ACCEPTED.labels(channel).observe(max(0.0, latency))
        self._channels[delivery.channel].succeeded()
        log.debug(
            "sent",
            delivery_id=delivery.id,
            invoice_id=delivery.invoice.invoice_id,
            channel=channel,
            message_id=message_id,
        )
        return Outcome(delivery.id, delivery.claim_token, "SENT", message_id=message_id)

    def _failed(self, delivery: Delivery, error: SendError) -> Outcome:
        """Apply the decision for a failed send: the row's fate, the channel's pause."""
        # Provider texts quote addresses and numbers: masked before they are stored,
        # printed or served (which also makes identical failures group together).
        masked = mask_text(error.message)
        state = self._channels[delivery.channel]
        state.failed(error.failure.value, masked)
        decision = decide_failure(error, delivery.attempts, self._policy)
        if decision.pause_seconds:
            state.pause(decision.pause_seconds)
        self._log_failure(delivery, error, decision)
        return _outcome(delivery, decision, masked)

    @staticmethod
    def _log_failure(delivery: Delivery, error: SendError, decision: Decision) -> None:
        channel = delivery.channel.value
        status, pause = decision.status, decision.pause_seconds
        context = {
            "delivery_id": delivery.id,
            "invoice_id": delivery.invoice.invoice_id,
            "channel": channel,
            "failure_class": error.failure.value,
            "error": error.message,
        }
        if error.failure is FailureClass.AUTH:
            log.error(
                "provider refused our credentials; channel paused", pause_seconds=pause, **context
            )
            return
        if status == "FAILED":
            log.warning("delivery failed", attempts=delivery.attempts, **context)
            metrics.DELIVERIES.labels(channel, "failed").inc()
            return
        if pause:
            log.warning("rate limited; channel paused", pause_seconds=pause, **context)
        else:
            log.info(
                "delivery will be retried",
                attempts=delivery.attempts,
                retry_in=round(decision.retry_in, 1),
                **context,
            )
        metrics.DELIVERIES.labels(channel, "retry").inc()


def _outcome(delivery: Delivery, decision: Decision, error: str | None) -> Outcome:
    """The outcome a decision gives a delivery."""
    return Outcome(
        delivery.id,
        delivery.claim_token,
        decision.status,
        error=error,
        retry_in=decision.retry_in,
        refund=decision.refund,
    )
