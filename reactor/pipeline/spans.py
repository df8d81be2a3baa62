"""A delivery's trace: one span from the invoice's commit to the provider's answer.

`deliver` (a child of the upstream's span when its transaction set
`invoice_reactor.traceparent`, else the root of a trace of its own) starts when the
outbox row was written. Its children: `intake` or `claim` (the statement that took the
row; the time before it, the row waited), `render`, the provider call (an HTTP client span),
and later `record outcome` (the recorder's batch). A digest's span links to every
other invoice's context. The spans are recorded as plain records and emitted at the
end (tracing.py ships them to the exporting process); only used while tracing is on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING

from reactor.support import tracing
from reactor.support.tracing import KIND_CLIENT, KIND_INTERNAL, SpanRecord

if TYPE_CHECKING:
    from reactor.domain.deliveries import Delivery, Outcome


class DeliveryTrace:
    """The spans of one delivery attempt, recorded as it goes, emitted when it ends."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.parent = tracing.parse(delivery.traceparent)
        self.trace_id = self.parent.trace_id if self.parent else tracing.new_id(128)
        self.sampled = tracing.sampled(self.trace_id, self.parent)
        self.span_id = tracing.new_id()
        self.started = time.time_ns()
        self.records: list[SpanRecord] = []
        self.error: str | None = None

    def child(self, name: str, start: int, end: int, kind: int = KIND_INTERNAL) -> None:
        """A finished stage of this attempt."""
        self.records.append(
            SpanRecord(self.trace_id, tracing.new_id(), self.span_id, name, start, end, kind)
        )

    def finish(self) -> str:
        """Emit the spans (when sampled); the `deliver` span's traceparent."""
        if self.sampled:
            delivery, ended = self.delivery, time.time_ns()
            created = delivery.event_created_at
            start = int(created.timestamp() * 1_000_000_000) if created else self.started
            claim_start, claim_end = delivery.claim_span
            if claim_start:  # before it, from the commit: the outbox row waited
                self.child(delivery.claimed_by, claim_start, claim_end)
            members = delivery.digest or (delivery,)
            deliver = SpanRecord(
                self.trace_id,
                self.span_id,
                self.parent.span_id if self.parent else 0,
                "deliver",
                min(start, self.started),
                ended,
                attributes={
                    "reactor.delivery.id": delivery.id,
                    "reactor.invoice.id": delivery.invoice.invoice_id,
                    "reactor.channel": delivery.channel.value,
                    "reactor.kind": delivery.kind,
                    "reactor.attempt": delivery.attempts,
                    "reactor.digest.size": len(members),
                },
                links=tracing.links_to(m.traceparent for m in members[1:]),
                error=self.error,
                remote_parent=self.parent is not None,
            )
            tracing.emit([deliver, *self.records])
        return tracing.traceparent(tracing.Context(self.trace_id, self.span_id, self.sampled))


_UNTRACED = nullcontext()


def stage(
    trace: DeliveryTrace | None, name: str, client: bool = False
) -> AbstractContextManager[None]:
    """Time one stage of a traced attempt (nothing while tracing is off)."""
    return _UNTRACED if trace is None else _timed(trace, name, client)


@contextmanager
def _timed(trace: DeliveryTrace, name: str, client: bool) -> Iterator[None]:
    start = time.time_ns()
    try:
        yield
    finally:
        trace.child(name, start, time.time_ns(), KIND_CLIENT if client else KIND_INTERNAL)


def failed(trace: DeliveryTrace | None, message: str) -> None:
    """The attempt failed: its `deliver` span says so (the text already masked)."""
    if trace is not None:
        trace.error = message[:200]


def recorded(outcomes: list[Outcome], started: int) -> None:
    """`record outcome` spans, one per traced delivery, for a batch written just now."""
    ended, records = time.time_ns(), []
    for outcome in outcomes:
        context = tracing.parse(outcome.trace_context)
        if context is not None and context.sampled:
            records.append(
                SpanRecord(
                    context.trace_id,
                    tracing.new_id(),
                    context.span_id,
                    "record outcome",
                    started,
                    ended,
                    attributes={"reactor.status": outcome.status},
                )
            )
    tracing.emit(records)
