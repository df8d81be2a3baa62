"""A delivery's spans, without a database or an exporter: the upstream's context is the
parent, a digest links to every invoice's, the past stages carry their own times, the
records become the SDK's spans in the exporting child, and sampling follows OTEL_*."""

from __future__ import annotations

import io
import pickle
import secrets
import struct
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanKind, StatusCode

from reactor.domain.deliveries import Delivery
from reactor.domain.enums import Channel
from reactor.domain.messages import InvoiceView
from reactor.pipeline import spans
from reactor.support import trace_export, tracing
from reactor.support.tracing import SpanRecord

CREATED = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)  # in the past
CREATED_NS = int(CREATED.timestamp() * 1e9)


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> list[SpanRecord]:
    records: list[SpanRecord] = []
    monkeypatch.setattr(tracing, "emit", lambda batch: records.extend(batch))
    return records


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
        event_created_at=CREATED,
        traceparent=traceparent,
        **extra,  # type: ignore[arg-type]
    )


def test_a_digest_joins_the_first_invoices_trace_and_links_the_others(
    emitted: list[SpanRecord],
) -> None:
    first, first_trace, first_span = _traceparent()
    second, second_trace, second_span = _traceparent()
    claim = (CREATED_NS + 1000, CREATED_NS + 5000)
    members = (
        _delivery(1, first, claimed_by="intake", claim_span=claim),
        _delivery(2, second),
        _delivery(3, None),  # no upstream context: nothing to link
    )
    digest = Delivery(**{**members[0].__dict__, "digest": members})
    traced = spans.DeliveryTrace(digest)
    with spans.stage(traced, "render"):
        pass
    with spans.stage(traced, "POST sendgrid", client=True):
        pass
    spans.failed(traced, "transient: SendGrid 503")
    context = traced.finish()
    by_name = {r.name: r for r in emitted}
    deliver = by_name["deliver"]
    assert f"{deliver.trace_id:032x}" == first_trace
    assert f"{deliver.parent_id:016x}" == first_span and deliver.remote_parent
    assert deliver.links == ((int(second_trace, 16), int(second_span, 16)),)
    assert deliver.start == CREATED_NS and deliver.attributes["reactor.digest.size"] == 3
    assert deliver.error == "transient: SendGrid 503"
    assert "queued" not in by_name  # the deliver span starts at the commit: the wait shows
    assert (by_name["intake"].start, by_name["intake"].end) == claim
    assert by_name["POST sendgrid"].kind == tracing.KIND_CLIENT
    assert {r.parent_id for r in emitted if r.name != "deliver"} == {deliver.span_id}
    assert context == f"00-{first_trace}-{deliver.span_id:016x}-01"
    assert tracing.trace_id(context) == first_trace

    # The child turns the records into the SDK's spans, as the exporter sends them.
    made = {s.name: s for s in trace_export.readable_spans(emitted, Resource.create({}))}
    span = made["deliver"]
    assert span.parent is not None and span.parent.is_remote
    assert f"{span.context.trace_id:032x}" == first_trace
    assert span.status.status_code is StatusCode.ERROR
    assert made["POST sendgrid"].kind is SpanKind.CLIENT
    assert [f"{link.context.trace_id:032x}" for link in span.links] == [second_trace]


def test_an_upstream_that_did_not_sample_is_not_recorded(emitted: list[SpanRecord]) -> None:
    traceparent, trace_id, _ = _traceparent()
    traced = spans.DeliveryTrace(_delivery(1, traceparent[:-2] + "00"))
    assert traced.finish().startswith(f"00-{trace_id}-") and traced.finish().endswith("-00")
    assert emitted == []
    spans.recorded([], 0)
    assert emitted == []


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "00-" + "0" * 32 + "-" + "0" * 16 + "-01",
        "ff-" + "a" * 32 + "-" + "b" * 16 + "-01",
        "00-" + "g" * 32 + "-" + "b" * 16 + "-01",
    ],
)
def test_a_missing_or_invalid_traceparent_starts_a_trace_of_its_own(value: str | None) -> None:
    assert tracing.parse(value) is None and tracing.links_to([value]) == ()
    assert tracing.trace_id(value) is None


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, (1.0, True)),
        ({"OTEL_TRACES_SAMPLER": "always_off"}, (0.0, False)),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}, (0.25, False)),
        (
            {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "x"},
            (1.0, True),
        ),
    ],
)
def test_the_sampler_is_read_as_the_sdk_reads_it(
    environ: dict[str, str], expected: tuple[float, bool]
) -> None:
    assert tracing.sampler_of(environ) == expected


def test_tracing_stays_off_without_an_endpoint_and_batches_frame_the_pipe() -> None:
    assert tracing.configure("test", environ={"OTEL_SERVICE_NAME": "x"}) is False
    assert tracing.enabled is False
    record = SpanRecord(1, 2, 0, "receipt", 10, 20, tracing.KIND_SERVER)
    frames = b""
    for batch in ([record], [record, record]):
        data = pickle.dumps(batch)
        frames += struct.pack("!I", len(data)) + data
    assert [len(b) for b in trace_export.batches(io.BytesIO(frames))] == [1, 2]
