"""A delivery's trace: one span from the invoice's commit to the provider's answer.

`deliver` (a child of the upstream's span when its transaction set
`invoice_reactor.traceparent`, else a trace of its own) starts when the outbox row was
written. Its children: `queued` (until the claim statement ran), `intake` or `claim`
(that statement), `render`, the provider call (an HTTP client span), and later
`record outcome` (the recorder's batch). A digest's span links to every invoice's
context. Only called while tracing is on (`tracing.enabled`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from reactor.support import tracing

if TYPE_CHECKING:
    from reactor.domain.deliveries import Delivery, Outcome


def _ns(delivery: Delivery) -> int | None:
    created = delivery.event_created_at
    return int(created.timestamp() * 1_000_000_000) if created is not None else None


def start_delivery(delivery: Delivery) -> Span:
    """The `deliver` span of one attempt, with its past (queued, intake/claim) filled in."""
    tracer = tracing.tracer()
    members = delivery.digest or (delivery,)
    created = _ns(delivery)
    span = tracer.start_span(
        "deliver",
        context=tracing.parent_of(delivery.traceparent),
        links=tracing.links_to(m.traceparent for m in members[1:]),
        start_time=created,
        attributes={
            "reactor.delivery.id": delivery.id,
            "reactor.invoice.id": delivery.invoice.invoice_id,
            "reactor.channel": delivery.channel.value,
            "reactor.kind": delivery.kind,
            "reactor.attempt": delivery.attempts,
            "reactor.digest.size": len(members),
        },
    )
    started, ended = delivery.claim_span
    if started:
        inside = trace.set_span_in_context(span)
        if created is not None and created < started:
            tracer.start_span("queued", context=inside, start_time=created).end(started)
        tracer.start_span(delivery.claimed_by, context=inside, start_time=started).end(ended)
    return span


@contextmanager
def stage(parent: Span | None, name: str, **attributes: str) -> Iterator[Span | None]:
    """A child span of the delivery's for one stage (nothing while tracing is off)."""
    if parent is None:
        yield None
        return
    kind = SpanKind.CLIENT if attributes.get("http.request.method") else SpanKind.INTERNAL
    # Exceptions are not recorded: a provider's error text may name a recipient
    # (`failed` sets the status with the masked text instead).
    with tracing.tracer().start_as_current_span(
        name,
        context=trace.set_span_in_context(parent),
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield span


def failed(span: Span | None, message: str) -> None:
    """Mark a span's stage as failed (the provider said no, or a bug)."""
    if span is not None:
        span.set_status(Status(StatusCode.ERROR, message[:200]))


def recorded(outcomes: list[Outcome], started: int) -> None:
    """`record outcome` spans, one per delivery traced, for a batch written just now."""
    ended = time.time_ns()
    tracer = tracing.tracer()
    for outcome in outcomes:
        parent = tracing.context_of(outcome.trace_context)
        if parent is not None:
            span = tracer.start_span("record outcome", context=parent, start_time=started)
            span.set_attribute("reactor.status", outcome.status)
            span.end(ended)
