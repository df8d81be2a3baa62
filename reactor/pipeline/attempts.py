"""One delivery attempt, in a sender task: render, send, and decide from the answer."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

import structlog

from reactor.domain.decisions import (
    TWILIO_UNSUBSCRIBED_CODE,
    Decision,
    FailureClass,
    RetryPolicy,
    SendError,
    decide_failure,
    fails_over,
    held_while_paused,
)
from reactor.domain.deliveries import Delivery, Outcome
from reactor.domain.enums import Channel, Status
from reactor.domain.messages import CardMessage, ChatMessage, Message
from reactor.messages.renderer import MessageRenderer
from reactor.pipeline import spans
from reactor.pipeline.channels import ChannelState
from reactor.policy.business_hours import WorkingHours
from reactor.policy.quiet import QuietHours
from reactor.support import metrics, take_links, tracing
from reactor.support.masking import mask_text
from reactor.transports import Transport

log = structlog.get_logger("reactor.attempts")


class ReplyBook(Protocol):
    """Where SMS reply codes are chosen and opt-outs recorded (the Store)."""

    async def reply_code(self, delivery_id: int, phone: str) -> int | None:
        """The code this SMS delivery carries."""
        ...

    async def sms_opt_out(self, phone: str, source: str) -> None:
        """No more SMS to this phone until it says START."""
        ...


class Attempts:
    """Makes one attempt at a delivery and says what its outcome is; never raises."""

    def __init__(
        self,
        transports: Mapping[Channel, Transport],
        renderer: MessageRenderer,
        channels: Mapping[Channel, ChannelState],
        policy: RetryPolicy,
        quiet_hours: QuietHours | None = None,
        failover: Transport | None = None,
        failover_after: int = 2,
        take_links: tuple[str, bytes] | None = None,
        replies: ReplyBook | None = None,
        slack_take_button: bool = False,
        working_hours: WorkingHours | None = None,
        locales: Mapping[str, str] | None = None,
    ) -> None:
        self._transports = transports
        self._renderer = renderer
        self._channels = channels
        self._policy = policy
        self._quiet_hours = quiet_hours or QuietHours({})
        self._failover = failover  # SMTP, for emails SendGrid failed
        self._failover_after = failover_after
        self._take_links = take_links  # (the take page's base URL, the signing key)
        self._replies = replies  # SMS carry reply codes (SMS_REPLY_CODES, take links on)
        self._slack_take_button = slack_take_button  # Slack's own button, not the link
        self._working_hours = working_hours or WorkingHours({})
        self._locales = locales or {}  # recipient -> locale; others: the renderer's default

    async def close(self) -> None:
        """Close every transport's kept-alive connections."""
        for transport in [*self._transports.values(), *filter(None, [self._failover])]:
            await transport.close()

    async def make(self, delivery: Delivery) -> Outcome:
        """Send one delivery, unless it waits: for business hours, a paused channel, quiet hours."""
        try:
            now = datetime.now(UTC)
            until = early_until(self._working_hours, delivery, now)
            if until is not None:
                return self._held(delivery, (until - now).total_seconds(), "business_hours")
            state = self._channels[delivery.channel]
            pause_left = state.paused_for()
            if pause_left > 0:
                failure_class, error = state.last_failure()
                return _outcome(delivery, held_while_paused(failure_class, pause_left), error)
            if delivery.channel is not Channel.EMAIL:  # email is never held
                until = self._quiet_hours.held_until(delivery.recipient, now)
                if until is not None:
                    return self._held(delivery, (until - now).total_seconds(), "quiet_hours")
            return await self._send(delivery)
        except Exception as error:  # never let a bug kill the task and leak its slot
            log.exception("unexpected error in a sender", delivery_id=delivery.id)
            return self._failed(delivery, SendError(FailureClass.TRANSIENT, repr(error)))

    def _transport(self, delivery: Delivery) -> Transport:
        """The channel's transport, or the SMTP failover once SendGrid failed enough."""
        if (
            self._failover is not None
            and delivery.channel is Channel.EMAIL
            and fails_over(delivery.attempts, self._failover_after)
        ):
            return self._failover
        return self._transports[delivery.channel]

    async def _send(self, delivery: Delivery) -> Outcome:
        if not tracing.enabled:
            return await self._attempt(delivery, None)
        traced = spans.DeliveryTrace(delivery)
        outcome = await self._attempt(delivery, traced)
        return replace(outcome, trace_context=traced.finish())

    async def _attempt(self, delivery: Delivery, span: spans.DeliveryTrace | None) -> Outcome:
        """Render and send; the outcome decided from the provider's answer."""
        transport = self._transport(delivery)
        channel = delivery.channel.value
        started = time.perf_counter()
        try:
            with spans.stage(span, "render"):
                message = self._render(delivery, await self._reply_code(delivery))
            with (
                structlog.contextvars.bound_contextvars(
                    invoice_id=delivery.invoice.invoice_id,
                    channel=channel,
                    delivery_id=delivery.id,
                ),
                spans.stage(span, f"POST {transport.name}", client=True),
            ):
                message_id = await transport.send(delivery.recipient, message, delivery.id)
        except SendError as error:
            spans.failed(span, f"{error.failure.value}: {mask_text(error.message)}")
            metrics.SEND_ATTEMPTS.labels(channel, error.failure.value).inc()
            if error.provider_code == TWILIO_UNSUBSCRIBED_CODE and self._replies is not None:
                await self._replies.sms_opt_out(delivery.recipient, "provider")
            return self._failed(delivery, error)
        except Exception as error:  # a bug (rendering, a transport) must not lose the row
            spans.failed(span, type(error).__name__)
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
        return Outcome(
            delivery.id,
            delivery.claim_token,
            Status.SENT,
            message_id=message_id,
            digest=_others(delivery),
            transport=transport.name,
        )

    async def _reply_code(self, delivery: Delivery) -> int | None:
        """The code a single-invoice SMS ends with, when replies are on."""
        if self._replies is None or delivery.channel is not Channel.SMS or delivery.digest:
            return None
        return await self._replies.reply_code(delivery.id, delivery.recipient)

    def _render(self, delivery: Delivery, reply_code: int | None = None) -> Message:
        """The message: one invoice's (a notice or a reminder), or a digest's, in the
        recipient's locale."""
        if delivery.channel in (Channel.SLACK, Channel.TEAMS):
            return self._render_chat(delivery)
        locale = self._locales.get(delivery.recipient)
        email = delivery.channel is Channel.EMAIL
        if delivery.digest:
            invoices = [d.invoice for d in delivery.digest]
            if email:
                return self._renderer.digest_email(invoices, locale)
            return self._renderer.digest_sms(invoices, locale)
        if email:
            link = self._take_link(delivery)
            return self._renderer.email(delivery.invoice, delivery.reminder, link, locale)
        return self._renderer.sms(delivery.invoice, delivery.reminder, reply_code, locale)

    def _take_link(self, delivery: Delivery) -> str | None:
        """The delivery's signed "I'll take it" link, when links are on."""
        if self._take_links is None:
            return None
        base, secret = self._take_links
        return base + take_links.sign(secret, delivery.id)

    def _render_chat(self, delivery: Delivery) -> ChatMessage | CardMessage:
        slack = delivery.channel is Channel.SLACK
        locale = self._locales.get(delivery.recipient)
        if delivery.digest:
            invoices = [d.invoice for d in delivery.digest]
            if slack:
                return self._renderer.digest_slack(invoices, locale)
            return self._renderer.digest_teams(invoices, locale)
        waited = None
        if delivery.reminder and delivery.event_created_at is not None:
            waited = (datetime.now(UTC) - delivery.event_created_at).total_seconds()
        link = self._take_link(delivery)
        if slack and self._slack_take_button and self._take_links is not None:
            token = take_links.sign(self._take_links[1], delivery.id)
            return self._renderer.slack(delivery.invoice, waited, take_token=token, locale=locale)
        if slack:
            return self._renderer.slack(delivery.invoice, waited, link, locale=locale)
        return self._renderer.teams(delivery.invoice, waited, link, locale=locale)

    @staticmethod
    def _held(delivery: Delivery, seconds: float, why: str) -> Outcome:
        """Back to PENDING until the quiet hours (or business hours) say, the attempt given back."""
        log.info(
            "held for the recipient's quiet hours"
            if why == "quiet_hours"
            else "held until its working time has passed",
            delivery_id=delivery.id,
            invoice_id=delivery.invoice.invoice_id,
            held_for_seconds=round(seconds),
        )
        metrics.DELIVERIES.labels(delivery.channel.value, "held").inc()
        return Outcome(
            delivery.id,
            delivery.claim_token,
            Status.PENDING,
            retry_in=max(0.0, seconds),
            refund=1,
            held=why,
            digest=_others(delivery),
        )

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
        if status == Status.FAILED:
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


def early_until(hours: WorkingHours, delivery: Delivery, now: datetime) -> datetime | None:
    """Until when a reminder of a business-hours rule waits for its working time, if it does."""
    if not delivery.reminder:
        return None
    return hours.held_until(delivery.rule_name, delivery.recipient, delivery.event_created_at, now)


def _outcome(delivery: Delivery, decision: Decision, error: str | None) -> Outcome:
    """The outcome a decision gives a delivery."""
    return Outcome(
        delivery.id,
        delivery.claim_token,
        decision.status,
        error=error,
        retry_in=decision.retry_in,
        refund=decision.refund,
        digest=_others(delivery),
    )


def _others(delivery: Delivery) -> tuple[tuple[int, UUID], ...]:
    """A digest's rows but the first, which share its outcome."""
    return tuple(delivery.rows()[1:])
