"""A delivery's spans, without a database or an exporter: the upstream's context is the
parent, a digest links to every invoice's, the past stages carry their own times, and a
traceparent survives the round trip through the database's text column."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reactor.domain.deliveries import Delivery
from reactor.domain.enums import Channel
from reactor.domain.messages import InvoiceView
from reactor.pipeline import spans
from reactor.support import tracing


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "tracer", lambda: provider.get_tracer("test"))
    return exporter


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def _delivery(number: int, traceparent: str | None, **extra: object) -> Delivery:
    return Delivery(
        id=number,
        claim_token=uuid4(),
        channel=Channel.EMAIL,
        recipient="ap@example.com",
        attempts=1,
        invoice=InvoiceView(str(number), f"INV-{number}", "Acme", "10", "EUR"),
        event_created_at=datetime(2026, 12, 5, 9, 0, 0, tzinfo=UTC),
        traceparent=traceparent,
        **extra,  # type: ignore[arg-type]
    )


def test_a_digest_joins_the_first_invoices_trace_and_links_the_others(
    exported: InMemorySpanExporter,
) -> None:
    first, first_trace, first_span = _traceparent()
    second, second_trace, _ = _traceparent()
    created = int(datetime(2026, 12, 5, 9, 0, 0, tzinfo=UTC).timestamp() * 1e9)
    members = (
        _delivery(1, first, claimed_by="intake", claim_span=(created + 1000, created + 5000)),
        _delivery(2, second),
        _delivery(3, None),  # no upstream context: nothing to link
    )
    digest = Delivery(**{**members[0].__dict__, "digest": members})
    span = spans.start_delivery(digest)
    with spans.stage(span, "render"):
        pass
    span.end()
    finished = {s.name: s for s in exported.get_finished_spans()}
    deliver = finished["deliver"]
    assert f"{deliver.context.trace_id:032x}" == first_trace
    assert deliver.parent is not None and f"{deliver.parent.span_id:016x}" == first_span
    assert [f"{link.context.trace_id:032x}" for link in deliver.links] == [second_trace]
    assert deliver.start_time == created and deliver.attributes["reactor.digest.size"] == 3
    assert (finished["queued"].start_time, finished["queued"].end_time) == (created, created + 1000)
    assert (finished["intake"].start_time, finished["intake"].end_time) == (
        created + 1000,
        created + 5000,
    )
    assert finished["render"].parent.span_id == deliver.context.span_id  # type: ignore[union-attr]
    again = tracing.traceparent(span)
    assert again == f"00-{first_trace}-{deliver.context.span_id:016x}-01"
    assert tracing.trace_id(again) == first_trace


@pytest.mark.parametrize(
    "value", [None, "", "garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", "01-x-y-z"]
)
def test_a_missing_or_invalid_traceparent_starts_a_trace_of_its_own(value: str | None) -> None:
    assert tracing.parent_of(value) is None and tracing.context_of(value) is None
    assert tracing.links_to([value]) == []


def test_tracing_stays_off_without_an_endpoint() -> None:
    assert tracing.configure("test", environ={"OTEL_SERVICE_NAME": "x"}) is False
    assert tracing.enabled is False
